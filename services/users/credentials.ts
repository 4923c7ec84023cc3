import type { Context } from "moleculer";
import { sessionEnded, tokensIssuedBefore, type Revocation } from "../../lib/auth/revocations";
import type { RequestMeta } from "../../models/auth.model";
import { normaliseEmail } from "../../models/user.model";
import type { UsersDeps } from "./deps";
import { emitUserEvent } from "./user-events";
import { validationError } from "../../lib/errors";
import { emailTaken, invalidOneTimeToken, userNotFound, weakPassword } from "./errors";
import { UniqueConstraintError, type Transaction } from "sequelize";
import { limitKey } from "./limits";
import { claimOneTimeToken, issueOneTimeToken, voidOneTimeTokens } from "./one-time-tokens";
import { hashPassword, passwordProblems, verifyPassword } from "./passwords";
import { revokeSessions } from "./sessions";

type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/** Reset links live one hour (security.md line 16). */
const RESET_TOKEN_TTL_MS = 60 * 60 * 1000;

/**
 * A mailed link: the confirmation of the account's address, or of the new address an email
 * change asked for — which becomes the account's now, unless another account took it meanwhile.
 */
export async function verifyEmail(deps: UsersDeps, token: string, ctx: Ctx): Promise<void> {
  const userId = await deps.withTransaction(async t => {
    const id = await claimOneTimeToken(deps, t, token, "verify");
    if (id !== null) {
      const [changed] = await deps.User.update(
        { emailVerified: true, updatedAt: new Date() },
        { where: { id, emailVerified: false }, transaction: t },
      );
      if (changed === 1)
        await emitUserEvent(deps, "user.email_verified", { userId: id }, { transaction: t, ctx });
      return id;
    }
    const changing = await claimOneTimeToken(deps, t, token, "email_change");
    if (changing === null) return null;
    const row = await deps.User.findByPk(changing, { transaction: t, lock: t.LOCK.UPDATE });
    const email = row?.get({ plain: true }).pendingEmail;
    if (!row || !email) return null;
    try {
      await row.update(
        { email, emailVerified: true, pendingEmail: null, updatedAt: new Date() },
        { transaction: t },
      );
    } catch (err) {
      if (err instanceof UniqueConstraintError) throw emailTaken();
      throw err;
    }
    await emitUserEvent(
      deps,
      "user.email_changed",
      { userId: changing, email },
      { transaction: t, ctx },
    );
    await emitUserEvent(
      deps,
      "user.security_changed",
      { userId: changing, what: "email" },
      { transaction: t, ctx },
    );
    return changing;
  });
  if (userId === null) throw invalidOneTimeToken();
  await deps.userChanged(userId, ctx);
}

/**
 * The part of "forgot password" that depends on whether the account exists. The action
 * answers 202 before this runs, so a taken and a free address answer alike, in the same time.
 * At most MAILS_PER_HOUR reset mails go to one address.
 */
export async function requestPasswordReset(
  deps: UsersDeps,
  rawEmail: string,
  ctx: Ctx,
): Promise<void> {
  const email = normaliseEmail(rawEmail);
  const row = await deps.User.findOne({ where: { email } });
  if (!row) return;
  const user = row.get({ plain: true });
  if (!(await deps.limits.mail.take(limitKey(`reset:${email}`)))) {
    deps.logger.info("Password reset mail cap reached for an address; no mail sent");
    return;
  }
  await deps.withTransaction(async t => {
    // Only the newest link works: older ones in the mailbox are void.
    await voidOneTimeTokens(deps, t, user.id, "reset");
    const resetToken = await issueOneTimeToken(deps, t, user.id, "reset", RESET_TOKEN_TTL_MS);
    await emitUserEvent(
      deps,
      "user.password_reset_requested",
      { userId: user.id, email: user.email, name: user.name, resetToken },
      { transaction: t, ctx },
    );
  });
}

/**
 * Sets a new password from a reset link. Every session ends; MFA stays as it was, so the
 * next login still needs the code. A successful reset also lifts the account's login
 * limit: the owner is never locked out longer than it takes to read a mail.
 */
export async function resetPassword(
  deps: UsersDeps,
  token: string,
  password: string,
  ctx?: Pick<Context, "requestID">,
): Promise<void> {
  // Length and common passwords were checked with the other params (newPasswordParam).
  const passwordHash = await hashPassword(password);
  const { email, revoked } = await deps.withTransaction(async t => {
    const userId = await claimOneTimeToken(deps, t, token, "reset");
    if (userId === null) throw invalidOneTimeToken();
    const row = await deps.User.findByPk(userId, { transaction: t, lock: t.LOCK.UPDATE });
    if (!row) throw invalidOneTimeToken();
    const user = row.get({ plain: true });
    const emailProblems = passwordProblems(password, "password", user.email);
    // Throwing rolls the claim back: a refused password does not burn the link.
    if (emailProblems.length > 0) throw weakPassword(emailProblems);
    const now = new Date();
    await row.update({ passwordHash, passwordChangedAt: now, updatedAt: now }, { transaction: t });
    await passwordSet(deps, t, userId, ctx);
    const ended = await revokeSessions(deps, t, userId, "password_reset");
    return { email: user.email, revoked: passwordRevocations(userId, ended, now) };
  });
  await deps.revoke(revoked, ctx);
  await deps.limits.loginAccount.reset(limitKey(email));
}

/** Needs the current password (security.md line 12); ends every other session and every reset link. */
export async function changePassword(
  deps: UsersDeps,
  userId: string,
  params: { currentPassword: string; newPassword: string },
  ctx: Ctx,
  reject: (ctx: Ctx, ms: number) => never,
): Promise<void> {
  const row = await deps.User.findByPk(userId);
  if (!row) throw userNotFound();
  const user = row.get({ plain: true });
  const accountKey = limitKey(user.email);
  const wait = await deps.limits.loginAccount.blockedFor(accountKey);
  if (wait > 0) reject(ctx, wait);
  // Length and common passwords were checked with the params (newPasswordParam); what
  // needs the account is checked here, and both of its problems are listed together.
  const problems: Array<{ field: string; type: string; message: string }> = [];
  // An account made by a provider has no password to change (it has none to prove either).
  if (
    user.passwordHash === null ||
    !(await verifyPassword(user.passwordHash, params.currentPassword))
  ) {
    await deps.limits.loginAccount.fail(accountKey);
    problems.push({
      field: "currentPassword",
      type: "currentPasswordWrong",
      message: "The 'currentPassword' field is not the current password.",
    });
  }
  problems.push(...passwordProblems(params.newPassword, "newPassword", user.email));
  if (problems.length > 0) throw validationError(problems);
  const passwordHash = await hashPassword(params.newPassword);
  const revoked = await deps.withTransaction(async t => {
    const now = new Date();
    await deps.User.update(
      { passwordHash, passwordChangedAt: now, updatedAt: now },
      { where: { id: userId }, transaction: t },
    );
    await passwordSet(deps, t, userId, ctx);
    const ended = await revokeSessions(
      deps,
      t,
      userId,
      "password_change",
      ctx.meta.user?.sid ? { except: ctx.meta.user.sid } : {},
    );
    return passwordRevocations(userId, ended, now);
  });
  await deps.revoke(revoked, ctx);
}

/** What every new password does in its transaction: older reset links die, the owner is told. */
async function passwordSet(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
  ctx?: Pick<Context, "requestID">,
): Promise<void> {
  await voidOneTimeTokens(deps, t, userId, "reset");
  await emitUserEvent(
    deps,
    "user.security_changed",
    { userId, what: "password" },
    { transaction: t, ctx },
  );
}

/**
 * After a new password, no access token issued before it works (api.md): the caller's own
 * too — its session stays, so its refresh token gets one that does.
 */
function passwordRevocations(userId: string, endedSessions: string[], at: Date): Revocation[] {
  return [
    tokensIssuedBefore(userId, at.getTime()),
    ...endedSessions.map(sid => sessionEnded(sid, at.getTime())),
  ];
}
