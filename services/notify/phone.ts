import crypto from "node:crypto";
import type { Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";
import type { AuthUser } from "../../models/auth.model";
import type { NotifyDeps } from "./deps";
import { invalidPhoneCode, smsUnavailable, tooManyPhoneCodes } from "./errors";

/**
 * A learner's phone number (api.md `/me/phone`, `/me/phone/verify`): SMS go only to a number
 * verified by a 6-digit code. The code is kept as an HMAC under notify's key (a million codes
 * hash to nothing a dump can reverse), lives 10 minutes, takes 5 guesses, and at most 3 codes
 * go out per user per hour.
 */

type PhoneDeps = Pick<NotifyDeps, "db" | "phone" | "withTransaction">;

const CODE_TTL_MINUTES = 10;
const MAX_GUESSES = 5;
const CODES_PER_HOUR = 3;

interface PhoneRow {
  phone: string;
  code_hash: string | null;
  code_expires_at: Date | null;
  guesses: number;
  codes_sent: number;
  window_start: Date;
}

const codeHash = (key: Buffer, userId: string, phone: string, code: string): string =>
  crypto.createHmac("sha256", key).update(`${userId}\n${phone}\n${code}`).digest("hex");

async function phoneRow(deps: PhoneDeps, userId: string, t: Transaction): Promise<PhoneRow | null> {
  const rows = await selectRows<PhoneRow>(
    deps.db.sequelize,
    `SELECT * FROM "${deps.db.schema}".phones WHERE user_id = :userId FOR UPDATE`,
    { replacements: { userId }, transaction: t },
  );
  return rows[0] ?? null;
}

/** Sets the number (unverified until its code comes back) and texts it a code. */
export async function requestPhoneCode(
  deps: PhoneDeps,
  input: { phone: string },
  actor: AuthUser,
): Promise<{ phone: string; verified: false; codeExpiresAt: string }> {
  const userId = actor.id;
  const { phone } = input;
  const code = String(crypto.randomInt(0, 1_000_000)).padStart(6, "0");
  const expiresAt = new Date(Date.now() + CODE_TTL_MINUTES * 60_000);
  await deps.withTransaction(async t => {
    await selectRows(deps.db.sequelize, `SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))`, {
      replacements: { key: `notify:phone:${userId}` },
      transaction: t,
    });
    const row = await phoneRow(deps, userId, t);
    const windowOpen = row && Date.now() - new Date(row.window_start).getTime() < 3600_000;
    const sent = windowOpen ? row.codes_sent : 0;
    if (sent >= CODES_PER_HOUR) throw tooManyPhoneCodes();
    await execute(
      deps.db.sequelize,
      `INSERT INTO "${deps.db.schema}".phones (user_id, phone, verified, code_hash, code_expires_at, guesses, codes_sent, window_start)
       VALUES (:userId, :phone, false, :hash, :expiresAt, 0, :sent, :windowStart)
       ON CONFLICT (user_id) DO UPDATE SET phone = EXCLUDED.phone, verified = EXCLUDED.verified,
         code_hash = EXCLUDED.code_hash, code_expires_at = EXCLUDED.code_expires_at, guesses = 0,
         codes_sent = EXCLUDED.codes_sent, window_start = EXCLUDED.window_start`,
      {
        replacements: {
          userId,
          phone,
          hash: codeHash(deps.phone.key, userId, phone, code),
          expiresAt,
          sent: sent + 1,
          windowStart: windowOpen ? row.window_start : new Date(),
        },
        transaction: t,
      },
    );
  });
  try {
    await deps.phone.sms.send(
      phone,
      `Your Lingomesh code is ${code}. It expires in ${CODE_TTL_MINUTES} minutes.`,
    );
  } catch {
    throw smsUnavailable();
  }
  return { phone, verified: false, codeExpiresAt: expiresAt.toISOString() };
}

/** Verifies the number with its code: once, within 10 minutes, in at most 5 guesses. */
export async function verifyPhone(
  deps: PhoneDeps,
  input: { code: string },
  actor: AuthUser,
): Promise<void> {
  const userId = actor.id;
  const matched = await deps.withTransaction(async t => {
    const row = await phoneRow(deps, userId, t);
    if (!row?.code_hash || !row.code_expires_at) return false;
    if (new Date(row.code_expires_at).getTime() <= Date.now() || row.guesses >= MAX_GUESSES) {
      return false;
    }
    const expected = Buffer.from(row.code_hash, "hex");
    const given = Buffer.from(codeHash(deps.phone.key, userId, row.phone, input.code), "hex");
    const ok = crypto.timingSafeEqual(expected, given);
    await execute(
      deps.db.sequelize,
      ok
        ? `UPDATE "${deps.db.schema}".phones SET verified = true, verified_at = now(), code_hash = NULL, code_expires_at = NULL WHERE user_id = :userId`
        : `UPDATE "${deps.db.schema}".phones SET guesses = guesses + 1 WHERE user_id = :userId`,
      { replacements: { userId }, transaction: t },
    );
    return ok;
  });
  if (!matched) throw invalidPhoneCode();
}
