import { Op } from "sequelize";
import type { Context } from "moleculer";
import type { RequestMeta } from "../../models/auth.model";
import type { UserRow } from "../../models/user.model";
import type { UsersDeps } from "./deps";
import { emitUserEvent } from "./user-events";
import { invalidOtp, mfaAlreadyEnabled, mfaNotEnabled, mfaNotSetUp, userNotFound } from "./errors";
import {
  isTotpShaped,
  newRecoveryCodes,
  newTotpSecret,
  otpauthUrl,
  recoveryCodeDigest,
  totpStep,
} from "./mfa";

type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/**
 * A valid second factor, each usable once: a TOTP code newer than the last one accepted
 * (the conditional UPDATE makes a replay — even two at once — fail), or an unused
 * recovery code.
 */
export async function checkSecondFactor(
  deps: UsersDeps,
  user: UserRow,
  code: string,
): Promise<boolean> {
  if (isTotpShaped(code)) {
    if (!user.mfaSecret) return false;
    const step = totpStep(user.mfaSecret, code);
    if (step === null) return false;
    const [claimed] = await deps.User.update(
      { mfaLastStep: step },
      {
        where: {
          id: user.id,
          mfaEnabled: true,
          [Op.or]: [{ mfaLastStep: null }, { mfaLastStep: { [Op.lt]: step } }],
        },
      },
    );
    return claimed === 1;
  }
  const [claimed] = await deps.models.RecoveryCode.update(
    { usedAt: new Date() },
    { where: { userId: user.id, codeHash: recoveryCodeDigest(code), usedAt: null } },
  );
  return claimed === 1;
}

async function loadUser(deps: UsersDeps, userId: string): Promise<UserRow> {
  const row = await deps.User.findByPk(userId);
  if (!row) throw userNotFound();
  return row.get({ plain: true });
}

async function guessAllowed(
  deps: UsersDeps,
  ctx: Ctx,
  userId: string,
  reject: (ctx: Ctx, ms: number) => never,
) {
  const wait = await deps.limits.mfa.blockedFor(userId);
  if (wait > 0) reject(ctx, wait);
}

/** A user with MFA on proves it again (a wrong code counts against the guess limit). */
async function proveSecondFactor(
  deps: UsersDeps,
  userId: string,
  otp: string,
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
  opts: { totpOnly: boolean },
): Promise<void> {
  const user = await loadUser(deps, userId);
  if (!user.mfaEnabled) throw mfaNotEnabled();
  await guessAllowed(deps, ctx, userId, reject);
  if ((opts.totpOnly && !isTotpShaped(otp)) || !(await checkSecondFactor(deps, user, otp))) {
    await deps.limits.mfa.fail(userId);
    throw invalidOtp();
  }
}

async function replaceRecoveryCodes(deps: UsersDeps, userId: string): Promise<string[]> {
  const codes = newRecoveryCodes();
  await deps.withTransaction(async t => {
    await deps.models.RecoveryCode.destroy({ where: { userId }, transaction: t });
    await deps.models.RecoveryCode.bulkCreate(
      codes.map(code => ({ userId, codeHash: recoveryCodeDigest(code) })),
      { transaction: t },
    );
  });
  return codes;
}

export interface MfaSetupAnswer {
  secret: string;
  otpauthUrl: string;
  /** Shown once; only their digests are kept. They work once MFA is enabled. */
  recoveryCodes: string[];
}

export async function setupMfa(deps: UsersDeps, userId: string): Promise<MfaSetupAnswer> {
  const user = await loadUser(deps, userId);
  if (user.mfaEnabled) throw mfaAlreadyEnabled();
  const secret = newTotpSecret();
  await deps.User.update({ mfaPendingSecret: secret }, { where: { id: userId } });
  const recoveryCodes = await replaceRecoveryCodes(deps, userId);
  return { secret, otpauthUrl: otpauthUrl(secret, user.email), recoveryCodes };
}

export async function enableMfa(
  deps: UsersDeps,
  userId: string,
  otp: string,
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
) {
  const user = await loadUser(deps, userId);
  if (user.mfaEnabled) throw mfaAlreadyEnabled();
  if (!user.mfaPendingSecret) throw mfaNotSetUp();
  await guessAllowed(deps, ctx, userId, reject);
  const step = totpStep(user.mfaPendingSecret, otp);
  if (step === null) {
    await deps.limits.mfa.fail(userId);
    throw invalidOtp();
  }
  const [count] = await deps.User.update(
    {
      mfaEnabled: true,
      mfaSecret: user.mfaPendingSecret,
      mfaPendingSecret: null,
      mfaLastStep: step,
    },
    { where: { id: userId, mfaEnabled: false, mfaPendingSecret: user.mfaPendingSecret } },
  );
  if (count === 0) throw mfaNotSetUp();
  await deps.limits.mfa.reset(userId);
  await deps.userChanged(userId, ctx);
}

export async function disableMfa(
  deps: UsersDeps,
  userId: string,
  otp: string,
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
) {
  await proveSecondFactor(deps, userId, otp, ctx, reject, { totpOnly: false });
  await deps.withTransaction(async t => {
    await deps.User.update(
      { mfaEnabled: false, mfaSecret: null, mfaPendingSecret: null, mfaLastStep: null },
      { where: { id: userId }, transaction: t },
    );
    await deps.models.RecoveryCode.destroy({ where: { userId }, transaction: t });
    await emitUserEvent(
      deps,
      "user.security_changed",
      { userId, what: "mfa_off" },
      { transaction: t, ctx },
    );
  });
  await deps.limits.mfa.reset(userId);
  await deps.userChanged(userId, ctx);
}

/** New recovery codes (the old ones stop working); needs a current TOTP code. */
export async function regenerateRecoveryCodes(
  deps: UsersDeps,
  userId: string,
  otp: string,
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
): Promise<{ recoveryCodes: string[] }> {
  await proveSecondFactor(deps, userId, otp, ctx, reject, { totpOnly: true });
  return { recoveryCodes: await replaceRecoveryCodes(deps, userId) };
}
