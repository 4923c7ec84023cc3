import type { Context } from "moleculer";
import { validationError } from "../../lib/errors";
import type { RequestMeta } from "../../models/auth.model";
import { toProfile, type PublicProfile, type UserProfile } from "../../models/user.model";
import { relations } from "./social";
import type { SessionView } from "../../models/session.model";
import { findByEmail, findUser, removeUser, VERIFY_TOKEN_TTL_MS } from "./accounts";
import { normaliseEmail } from "../../models/user.model";
import { issueOneTimeToken, voidOneTimeTokens } from "./one-time-tokens";
import { emitUserEvent } from "./user-events";
import { EXPORTING_SERVICES, type UsersDeps } from "./deps";
import {
  emailAlreadyVerified,
  emailTaken,
  exportIncomplete,
  invalidOtp,
  mailCapReached,
  userNotFound,
} from "./errors";
import { listIdentities, type IdentityView } from "./oidc";
import { listSessions } from "./sessions";
import { limitKey } from "./limits";
import { checkSecondFactor } from "./mfa-flows";
import { verifyPassword } from "./passwords";
import { claimExchangeCode, peekExchangeCode } from "./store/oidc-flows";
import { digest } from "./tokens";

/** What a user does to their own account beyond the profile (api.md "Identity, continued"). */

type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/**
 * Proof, again, that the caller is the account's owner (security.md line 32): its password;
 * or, for an account without one, a code from the authenticator app when MFA is on, or the
 * one-time code of a fresh provider sign-in (the callback's `code`, not exchanged).
 */
export interface Reauthentication {
  password?: string;
  otp?: string;
  code?: string;
}

const problem = (field: string, type: string, message: string) =>
  validationError([{ field, type, message }]);

async function reauthenticate(
  deps: UsersDeps,
  userId: string,
  proof: Reauthentication,
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
): Promise<void> {
  const user = await findUser(deps, userId);
  if (!user) throw userNotFound();
  if (user.passwordHash !== null) {
    if (proof.password === undefined) {
      throw problem("password", "required", "The 'password' field is required.");
    }
    const key = limitKey(user.email);
    const wait = await deps.limits.loginAccount.blockedFor(key);
    if (wait > 0) reject(ctx, wait);
    if (!(await verifyPassword(user.passwordHash, proof.password))) {
      await deps.limits.loginAccount.fail(key);
      throw problem("password", "passwordWrong", "The 'password' field is not the password.");
    }
    return;
  }
  if (proof.otp !== undefined && user.mfaEnabled) {
    const wait = await deps.limits.mfa.blockedFor(userId);
    if (wait > 0) reject(ctx, wait);
    if (!(await checkSecondFactor(deps, user, proof.otp))) {
      await deps.limits.mfa.fail(userId);
      throw invalidOtp();
    }
    return;
  }
  if (proof.code !== undefined) {
    const codeHash = digest(proof.code);
    const held = await peekExchangeCode(deps.db, codeHash);
    const claimed =
      held?.userId === userId &&
      (await deps.withTransaction(t => claimExchangeCode(deps.db, t, codeHash)));
    if (!claimed) throw problem("code", "codeInvalid", "The 'code' field is not a valid code.");
    return;
  }
  throw problem(
    user.mfaEnabled ? "otp" : "code",
    "required",
    user.mfaEnabled
      ? "The 'otp' field is required: a code from the authenticator app."
      : "The 'code' field is required: the one-time code of a fresh provider sign-in.",
  );
}

export async function deleteOwnAccount(
  deps: UsersDeps,
  userId: string,
  proof: Reauthentication,
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
): Promise<{ id: string; deleted: true }> {
  await reauthenticate(deps, userId, proof, ctx, reject);
  return removeUser(deps, userId, ctx);
}

export interface DataExport {
  exportedAt: string;
  userId: string;
  users: {
    profile: UserProfile & { status: string };
    sessions: SessionView[];
    identities: IdentityView[];
    following: PublicProfile[];
    followers: PublicProfile[];
    blocked: PublicProfile[];
  };
  /** Each other service's own answer, table by table. */
  services: Record<string, Record<string, unknown[]>>;
}

/**
 * GET /me/export: everything every service holds about the user, in one document. Each
 * service answers for its own data over the broker; when one cannot, there is no export
 * (503) rather than one that silently leaves part out.
 */
export async function exportOwnData(
  deps: UsersDeps,
  userId: string,
  ctx: Ctx,
): Promise<DataExport> {
  const user = await findUser(deps, userId);
  if (!user) throw userNotFound();
  const [sessions, identities, following, followers, blocked, services] = await Promise.all([
    listSessions(deps, userId, ctx.meta.user?.sid),
    listIdentities(deps, userId),
    relations(deps, userId, "following"),
    relations(deps, userId, "followers"),
    relations(deps, userId, "blocked"),
    Promise.all(
      EXPORTING_SERVICES.map(async service => {
        try {
          return [service, await deps.exportOf(service, userId, ctx)] as const;
        } catch (err) {
          deps.logger.warn(`export: ${service} did not answer: ${(err as Error).message}`);
          throw exportIncomplete(service);
        }
      }),
    ),
  ]);
  return {
    exportedAt: new Date().toISOString(),
    userId,
    users: {
      profile: { ...toProfile(user), status: user.status },
      sessions,
      identities,
      following,
      followers,
      blocked,
    },
    services: Object.fromEntries(services),
  };
}

/**
 * POST /auth/verify-email/resend: a new confirmation link (the older ones stop working). At most
 * the mail limit's count per address an hour (security.md line 22): 429 beyond it.
 */
export async function resendVerification(deps: UsersDeps, userId: string, ctx: Ctx): Promise<void> {
  const user = await findUser(deps, userId);
  if (!user) throw userNotFound();
  if (user.emailVerified) throw emailAlreadyVerified();
  if (!(await deps.limits.mail.take(limitKey(`verify:${user.email}`)))) throw mailCapReached();
  await deps.withTransaction(async t => {
    await voidOneTimeTokens(deps, t, userId, "verify");
    const verificationToken = await issueOneTimeToken(
      deps,
      t,
      userId,
      "verify",
      VERIFY_TOKEN_TTL_MS,
    );
    await emitUserEvent(
      deps,
      "user.verification_requested",
      { userId, email: user.email, name: user.name, verificationToken },
      { transaction: t, ctx },
    );
  });
}

/**
 * POST /me/email: the new address gets a link and takes effect when it is confirmed (POST
 * /auth/verify-email); the old one gets a notice. Needs the password (or, without one, the
 * same proof as erasure). Only the newest request's link works.
 */
export async function requestEmailChange(
  deps: UsersDeps,
  userId: string,
  params: Reauthentication & { newEmail: string },
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
): Promise<void> {
  const { newEmail: raw, ...proof } = params;
  await reauthenticate(deps, userId, proof, ctx, reject);
  const user = await findUser(deps, userId);
  if (!user) throw userNotFound();
  const newEmail = normaliseEmail(raw);
  if (newEmail === user.email || (await findByEmail(deps, newEmail))) throw emailTaken();
  if (!(await deps.limits.mail.take(limitKey(`change:${userId}`)))) throw mailCapReached();
  await deps.withTransaction(async t => {
    await deps.User.update(
      { pendingEmail: newEmail, updatedAt: new Date() },
      { where: { id: userId }, transaction: t },
    );
    await voidOneTimeTokens(deps, t, userId, "email_change");
    const verificationToken = await issueOneTimeToken(
      deps,
      t,
      userId,
      "email_change",
      VERIFY_TOKEN_TTL_MS,
    );
    await emitUserEvent(
      deps,
      "user.email_change_requested",
      { userId, email: newEmail, previousEmail: user.email, name: user.name, verificationToken },
      { transaction: t, ctx },
    );
  });
}
