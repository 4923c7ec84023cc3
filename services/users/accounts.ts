import type { Context } from "moleculer";
import { Op, UniqueConstraintError, type Transaction, type WhereOptions } from "sequelize";
import { v7 as uuidv7 } from "uuid";
import { rolesChanged, sessionEnded, userErased } from "../../lib/auth/revocations";
import type { RequestMeta, Role } from "../../models/auth.model";
import {
  normaliseEmail,
  preferredLanguage,
  profileUpdateParams,
  toProfile,
  toSummary,
  type UserProfile,
  type UserRow,
  type UserSummary,
} from "../../models/user.model";
import type { AccountCreated } from "../../models/analytics.model";
import type { UsersDeps } from "./deps";
import { emitUserEvent } from "./user-events";
import {
  emailTaken,
  invalidCredentials,
  accountSuspended,
  invalidRefreshToken,
  mfaRequired,
  ownAdminRole,
  tooManyAttempts,
  userNotFound,
} from "./errors";
import { limitKey } from "./limits";
import { checkSecondFactor } from "./mfa-flows";
import { issueOneTimeToken } from "./one-time-tokens";
import {
  dummyPasswordHash,
  hashPassword,
  needsRehash,
  passwordProblems,
  verifyPassword,
} from "./passwords";
import { openSession, rotateRefreshToken, type ClientInfo } from "./sessions";
import { signAccessToken } from "./tokens";
import { keepAnotherAdmin } from "./last-admin";
import { selectRows } from "../../lib/db/sql";
import { tableOf } from "./store/db";
import { pageOf } from "../../lib/params";
import type { ParamsOf } from "../../lib/params-of";

/** Email verification (and email change) links stay valid three days. */
export const VERIFY_TOKEN_TTL_MS = 72 * 60 * 60 * 1000;

export interface AuthAnswer {
  user: UserProfile;
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

export interface TokenAnswer {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

// Any action's context: only meta is read here.
type Ctx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

function clientOf(meta: RequestMeta): ClientInfo {
  return { userAgent: meta.userAgent, ip: meta.clientIp };
}

/** Sets Retry-After (moleculer-web copies $responseHeaders onto error answers too) and throws 429. */
export function rejectTooMany(ctx: Ctx, waitMs: number): never {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  ctx.meta.$responseHeaders = { ...ctx.meta.$responseHeaders, "Retry-After": String(seconds) };
  throw tooManyAttempts(seconds);
}

async function tokensFor(
  deps: UsersDeps,
  user: UserRow,
  sessionId: string,
  refreshToken: string,
): Promise<TokenAnswer> {
  const { accessToken, expiresIn } = await signAccessToken(deps.keys, deps.cfg, {
    userId: user.id,
    roles: user.roles,
    sessionId,
  });
  return { accessToken, refreshToken, expiresIn };
}

export async function findUser(
  deps: UsersDeps,
  id: string,
  t?: Transaction,
): Promise<UserRow | null> {
  const row = await deps.User.findByPk(id, { transaction: t });
  return row ? row.get({ plain: true }) : null;
}

export async function findByEmail(deps: UsersDeps, email: string): Promise<UserRow | null> {
  const row = await deps.User.findOne({ where: { email } });
  return row ? row.get({ plain: true }) : null;
}

/**
 * A new account in the caller's transaction: its verification token and user.created go with
 * it. `passwordHash` is null for an account made by a provider sign-in.
 */
export async function createAccount(
  deps: UsersDeps,
  t: Transaction,
  fields: {
    email: string;
    name: string;
    passwordHash: string | null;
    emailVerified: boolean;
    /** The language the account starts with (mails are in it from the first one). */
    locale: string | null;
  },
  ctx?: Ctx,
): Promise<UserRow> {
  const now = new Date();
  const row = await deps.User.create(
    {
      id: uuidv7(),
      email: fields.email,
      name: fields.name,
      passwordHash: fields.passwordHash,
      emailVerified: fields.emailVerified,
      locale: fields.locale,
      createdAt: now,
      updatedAt: now,
      passwordChangedAt: now,
    },
    { transaction: t },
  );
  const user = row.get({ plain: true });
  const verificationToken = await issueOneTimeToken(
    deps,
    t,
    user.id,
    "verify",
    VERIFY_TOKEN_TTL_MS,
  );
  await emitUserEvent(
    deps,
    "user.created",
    {
      userId: user.id,
      email: user.email,
      name: user.name,
      timezone: user.timezone,
      verificationToken,
      emailVerified: fields.emailVerified,
      ...(fields.locale !== null ? { locale: fields.locale } : {}),
    },
    { transaction: t, ctx },
  );
  return user;
}

export async function register(
  deps: UsersDeps,
  params: { email: string; password: string; name: string },
  ctx: Ctx,
): Promise<AuthAnswer> {
  // The password policy ran with the other fields' checks (newPasswordParam in the params).
  const email = normaliseEmail(params.email);
  if (await findByEmail(deps, email)) throw emailTaken();
  const passwordHash = await hashPassword(params.password);
  let created: { user: UserRow; sessionId: string; refreshToken: string };
  try {
    created = await deps.withTransaction(async t => {
      const user = await createAccount(
        deps,
        t,
        {
          email,
          name: params.name,
          passwordHash,
          emailVerified: false,
          locale: preferredLanguage(ctx.meta.requestHeaders?.["accept-language"]),
        },
        ctx,
      );
      const session = await openSession(deps, t, user.id, clientOf(ctx.meta));
      return { user, ...session };
    });
  } catch (err) {
    // Two registrations of one email at once: the unique index decides.
    if (err instanceof UniqueConstraintError) throw emailTaken();
    throw err;
  }
  const tokens = await tokensFor(deps, created.user, created.sessionId, created.refreshToken);
  return { user: toProfile(created.user), ...tokens };
}

/**
 * The second factor of a sign-in, where the account has MFA on: a missing or wrong code is
 * 401 MFA_REQUIRED and counts against the account's guess limit.
 */
export async function requireSecondFactor(
  deps: UsersDeps,
  user: UserRow,
  otp: string | undefined,
  ctx: Ctx,
): Promise<void> {
  if (!user.mfaEnabled) return;
  const { mfa } = deps.limits;
  const mfaWait = await mfa.blockedFor(user.id);
  if (mfaWait > 0) rejectTooMany(ctx, mfaWait);
  if (otp === undefined || otp === "") throw mfaRequired();
  if (!(await checkSecondFactor(deps, user, otp))) {
    await mfa.fail(user.id);
    throw mfaRequired();
  }
  await mfa.reset(user.id);
}

/** A suspended account signs in nowhere (api.md: 403 ACCOUNT_SUSPENDED). */
export function ensureActive(user: UserRow): void {
  if (user.status === "suspended") throw accountSuspended();
}

/**
 * A sign-in from a browser or app (its user agent) that no session of the account ever had —
 * and not the account's first session, which is where it was made.
 */
async function isNewDevice(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
  client: ClientInfo,
): Promise<boolean> {
  // One statement, both answers from sessions_user_agent_idx (migration 0005).
  const [seen] = await selectRows<{ any_session: boolean; same_agent: boolean }>(
    deps.db.sequelize,
    `SELECT EXISTS (SELECT 1 FROM ${tableOf(deps.db, "sessions")} WHERE user_id = $1) AS any_session,
            EXISTS (SELECT 1 FROM ${tableOf(deps.db, "sessions")}
                    WHERE user_id = $1 AND user_agent IS NOT DISTINCT FROM $2) AS same_agent`,
    { bind: [userId, client.userAgent?.slice(0, 512) ?? null], transaction: t },
  );
  return seen.any_session && !seen.same_agent;
}

/** Opens a session for a user who has proven who they are, and signs its first access token. */
export async function signIn(deps: UsersDeps, user: UserRow, ctx: Ctx): Promise<AuthAnswer> {
  const session = await deps.withTransaction(async t => {
    const client = clientOf(ctx.meta);
    if (await isNewDevice(deps, t, user.id, client)) {
      await emitUserEvent(
        deps,
        "user.security_changed",
        { userId: user.id, what: "new_device" },
        { transaction: t, ctx },
      );
    }
    return openSession(deps, t, user.id, client);
  });
  const tokens = await tokensFor(deps, user, session.sessionId, session.refreshToken);
  return { user: toProfile(user), ...tokens };
}

/**
 * Login. The limits are checked before the password; an unknown email costs a hash like
 * a wrong password and counts against the same per-address limit, so neither status,
 * body nor time tells whether an account exists.
 */
export async function login(
  deps: UsersDeps,
  params: { email: string; password: string; otp?: string },
  ctx: Ctx,
): Promise<AuthAnswer> {
  const email = normaliseEmail(params.email);
  const accountKey = limitKey(email);
  const ipKey = ctx.meta.clientIp ?? "unknown";
  const { loginAccount, loginIp } = deps.limits;
  const [account, ipWait] = await Promise.all([
    loginAccount.state(accountKey),
    loginIp.blockedFor(ipKey),
  ]);
  const wait = Math.max(account.waitMs, ipWait);
  if (wait > 0) rejectTooMany(ctx, wait);

  const found = await findByEmail(deps, email);
  // An account without a password (made by a provider) costs the same hash and never matches.
  const passwordOk = await verifyPassword(
    found?.passwordHash ?? (await dummyPasswordHash()),
    params.password,
  );
  if (!found || found.passwordHash === null || !passwordOk) {
    await Promise.all([loginAccount.fail(accountKey), loginIp.fail(ipKey)]);
    throw invalidCredentials();
  }
  let user = found;
  ensureActive(user);
  await requireSecondFactor(deps, user, params.otp, ctx);
  // Nothing to clear when no failure was counted (most logins): one Redis round trip less.
  if (account.failures > 0) await loginAccount.reset(accountKey);

  if (user.passwordHash !== null && needsRehash(user.passwordHash)) {
    // The parameters went up since this hash was made: upgrade it while we hold the password.
    const passwordHash = await hashPassword(params.password);
    await deps.User.update(
      { passwordHash },
      { where: { id: user.id, passwordHash: user.passwordHash } },
    );
    user = { ...user, passwordHash };
  }
  return signIn(deps, user, ctx);
}

export async function refresh(
  deps: UsersDeps,
  refreshToken: string,
  ctx: Ctx,
): Promise<TokenAnswer> {
  const result = await rotateRefreshToken(deps, refreshToken, clientOf(ctx.meta));
  if (!result.ok) {
    if (result.reason === "reuse") {
      deps.logger.warn("Refresh token reuse detected; the session was revoked");
      // The holder of the copy may also hold the family's current access token.
      await deps.revoke([sessionEnded(result.sessionId)], ctx);
    }
    throw invalidRefreshToken();
  }
  return tokensFor(deps, result.user, result.sessionId, result.refreshToken);
}

export async function profileOf(deps: UsersDeps, userId: string): Promise<UserProfile> {
  const user = await findUser(deps, userId);
  if (!user) throw userNotFound();
  return toProfile(user);
}

/** PATCH /me's changes, as its params check them. */
export type ProfileChanges = ParamsOf<typeof profileUpdateParams>;

/** The fields other services keep a copy of (user.updated): a change to any of them is announced. */
const ANNOUNCED = [
  "name",
  "timezone",
  "locale",
  "quietHours",
  "profileVisibility",
  "newCardsPerDay",
] as const;

export async function updateProfile(
  deps: UsersDeps,
  userId: string,
  changes: ProfileChanges,
  ctx: Ctx,
): Promise<UserProfile> {
  const user = await deps.withTransaction(async t => {
    const row = await deps.User.findByPk(userId, { transaction: t, lock: t.LOCK.UPDATE });
    if (!row) throw userNotFound();
    // A copy: get({ plain: true }) may hand out the live dataValues, which update() changes.
    const before = { ...row.get({ plain: true }) };
    if (Object.keys(changes).length === 0) return before;
    await row.update({ ...changes, updatedAt: new Date() }, { transaction: t });
    const after = row.get({ plain: true });
    if (ANNOUNCED.some(field => JSON.stringify(after[field]) !== JSON.stringify(before[field]))) {
      await emitUserEvent(
        deps,
        "user.updated",
        {
          userId,
          name: after.name,
          timezone: after.timezone,
          ...(after.locale !== null ? { locale: after.locale } : {}),
          quietHours: after.quietHours,
          profileVisibility: after.profileVisibility,
          newCardsPerDay: after.newCardsPerDay,
        },
        { transaction: t, ctx },
      );
    }
    return after;
  });
  await deps.userChanged(userId, ctx);
  return toProfile(user);
}

export interface UserListAnswer {
  rows: UserProfile[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

/** `q` matches name or email anywhere, case-insensitively; LIKE wildcards in it are literal. */
export async function listUsers(
  deps: UsersDeps,
  params: { q?: string; page: number; pageSize: number },
): Promise<UserListAnswer> {
  let where: WhereOptions<UserRow> = {};
  if (params.q) {
    const pattern = `%${params.q.replace(/[\\%_]/g, ch => `\\${ch}`)}%`;
    where = { [Op.or]: [{ name: { [Op.iLike]: pattern } }, { email: { [Op.iLike]: pattern } }] };
  }
  const { rows, count } = await deps.withTransaction(t =>
    deps.User.findAndCountAll({
      where,
      order: [
        ["createdAt", "DESC"],
        ["id", "DESC"],
      ],
      limit: params.pageSize,
      offset: (params.page - 1) * params.pageSize,
      transaction: t,
    }),
  );
  return {
    rows: rows.map(row => toProfile(row.get({ plain: true }))),
    ...pageOf(count, params.page, params.pageSize),
  };
}

/** Accounts created since `since`, a keyset page by id: what the analytics rebuild counts. */
export async function accountsCreated(
  deps: Pick<UsersDeps, "User">,
  schema: string,
  page: { since: Date; after?: string; limit: number },
): Promise<AccountCreated[]> {
  const sequelize = deps.User.sequelize;
  if (!sequelize) throw new Error("users model is not bound to a database");
  const found = await selectRows<{ id: string; created_at: Date }>(
    sequelize,
    `SELECT id, created_at FROM "${schema}".users
     WHERE created_at >= :since AND (CAST(:after AS text) IS NULL OR id > :after)
     ORDER BY id LIMIT :limit`,
    { replacements: { since: page.since, after: page.after ?? null, limit: page.limit } },
  );
  return found.map(row => ({ userId: row.id, createdAt: new Date(row.created_at).toISOString() }));
}

export async function setRoles(
  deps: UsersDeps,
  userId: string,
  roles: Role[],
  ctx: Ctx,
): Promise<UserProfile> {
  const now = new Date();
  await deps.withTransaction(async t => {
    if (!roles.includes("admin")) {
      if (ctx.meta.user?.id === userId) throw ownAdminRole();
      await keepAnotherAdmin(deps, t, userId);
    }
    const [count] = await deps.User.update(
      { roles, updatedAt: now },
      { where: { id: userId }, transaction: t },
    );
    if (count === 0) throw userNotFound(userId);
  });
  // A token issued before keeps only the roles still held: a demoted author gets 403 at once.
  await deps.revoke([rolesChanged(userId, roles, now.getTime())], ctx);
  await deps.userChanged(userId, ctx);
  return profileOf(deps, userId);
}

export async function removeUser(
  deps: UsersDeps,
  userId: string,
  ctx: Ctx,
): Promise<{ id: string; deleted: true }> {
  await deps.withTransaction(async t => {
    await keepAnotherAdmin(deps, t, userId);
    const exists = await deps.User.count({ where: { id: userId }, transaction: t });
    if (exists === 0) throw userNotFound(userId);
    // Versioned from the row, so before it goes.
    await emitUserEvent(deps, "user.deleted", { userId }, { transaction: t, ctx });
    await deps.User.destroy({ where: { id: userId }, transaction: t });
  });
  await deps.revoke([userErased(userId)], ctx);
  await deps.userChanged(userId, ctx);
  return { id: userId, deleted: true };
}

export async function summaries(deps: UsersDeps, ids: string[]): Promise<UserSummary[]> {
  const wanted = ids.filter(id => /^[0-9a-f-]{36}$/i.test(id));
  if (wanted.length === 0) return [];
  const rows = await deps.withTransaction(t =>
    deps.User.findAll({ where: { id: wanted }, transaction: t }),
  );
  const byId = new Map(
    rows.map(row => [row.get({ plain: true }).id, toSummary(row.get({ plain: true }))]),
  );
  return wanted
    .map(id => byId.get(id))
    .filter((summary): summary is UserSummary => summary !== undefined);
}

/**
 * The bootstrap admin (config.md): an upsert under the unique email, so any number of
 * nodes starting at once leave exactly one account, with the admin role. An existing
 * account keeps its password (it may have been changed since).
 */
export async function ensureAdmin(
  deps: UsersDeps,
  email: string,
  password: string,
  schema: string,
): Promise<void> {
  const normalised = normaliseEmail(email);
  const problems = passwordProblems(password, "ADMIN_PASSWORD", normalised);
  if (problems.length > 0) throw new Error(`ADMIN_PASSWORD is refused: ${problems[0].message}`);
  const passwordHash = await hashPassword(password);
  const sequelize = deps.User.sequelize;
  if (!sequelize) throw new Error("users model is not bound to a database");
  await deps.withTransaction(async t => {
    const [rows] = (await sequelize.query(
      `INSERT INTO "${schema}".users (id, email, name, roles, password_hash, email_verified, created_at, updated_at, password_changed_at)
       VALUES ($1, $2, 'Administrator', ARRAY['admin']::text[], $3, true, now(), now(), now())
       ON CONFLICT (email) DO UPDATE SET
         roles = CASE WHEN 'admin' = ANY(users.roles) THEN users.roles ELSE array_append(users.roles, 'admin') END
       RETURNING id, name, timezone, (xmax = 0) AS inserted`,
      { bind: [uuidv7(), normalised, passwordHash], transaction: t },
    )) as [Array<{ id: string; name: string; timezone: string; inserted: boolean }>, unknown];
    const row = rows[0];
    if (row?.inserted) {
      const verificationToken = await issueOneTimeToken(
        deps,
        t,
        row.id,
        "verify",
        VERIFY_TOKEN_TTL_MS,
      );
      await emitUserEvent(
        deps,
        "user.created",
        {
          userId: row.id,
          email: normalised,
          name: row.name,
          timezone: row.timezone,
          verificationToken,
          emailVerified: true,
        },
        { transaction: t },
      );
    }
  });
}
