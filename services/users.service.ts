import type { Context, ServiceSchema } from "moleculer";
import type Redis from "ioredis";
import type { Sequelize, Transaction } from "sequelize";
import {
  REVOCATION_EVENT,
  revocationStoreOf,
  sessionEnded,
  type RevocationPayload,
} from "../lib/auth/revocations";
import { actorOf } from "../lib/auth/guard";
import { configOf } from "../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { createRedis } from "../lib/redis";
import { READ_RETRY } from "../moleculer.config";
import { DbMixin, type DbServiceThis } from "../mixins/db.mixin";
import {
  DurableEvents,
  type DurableEventHandlers,
  type DurableEventsMethods,
} from "../mixins/durable-events.mixin";
import type { EventEnvelope } from "../models/events.model";
import { recordPlacedLevel } from "./users/placement";
import type { RequestMeta } from "../models/auth.model";
import type { CredentialToSign } from "../models/certificate.model";
import { createdSinceParams } from "../models/analytics.model";
import { defineSessionModels, type SessionModels } from "../models/session.model";
import {
  emailParam,
  passwordParam,
  profileUpdateParams,
  rolesParam,
  userAttributes,
  type UserEntity,
  type UserModel,
} from "../models/user.model";
import * as accounts from "./users/accounts";
import * as admin from "./users/admin";
import * as selfService from "./users/self-service";
import * as social from "./users/social";
import { existingUserId, UUID } from "./users/ids";
import * as credentials from "./users/credentials";
import { signCredential } from "./users/credential-signing";
import type { UsersDeps } from "./users/deps";
import { identityNotFound, sessionNotFound } from "./users/errors";
import { createAuthLimits } from "./users/limits";
import { displayNameParam, optionalDisplayNameParam } from "./users/names";
import * as mfaFlows from "./users/mfa-flows";
import * as providerSignIn from "./users/oidc";
import { createOidcProviders } from "./users/oidc-providers";
import { redirectTo } from "../lib/rest-answers";
import { usersMigrations } from "./users/migrations";
import { dummyPasswordHash, newPasswordParam } from "./users/passwords";
import { listSessions, logout, revokeSessions } from "./users/sessions";
import { loadSigningKeys } from "./users/tokens";
import { idParam, pageParams, type IdInput } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";

/**
 * users: the identity provider — accounts, passwords, access tokens and their key set,
 * sessions with rotating refresh tokens, TOTP MFA, email verification and password reset,
 * profiles and roles. Routes: the Identity table of shared/design/api.md
 * (services/api/routes/identity.routes.ts). The gateway verifies access tokens itself
 * against `users.jwks`; every flow lives in services/users/*.
 */

interface UsersVars {
  deps: UsersDeps;
  redis?: Redis;
  /** Work an action started but did not wait for (forgot-password); awaited on stop. */
  pending: Set<Promise<void>>;
}

type UsersModels = SessionModels & { User: UserModel };

function defineUsersModels(sequelize: Sequelize, schema: string): UsersModels {
  const User = sequelize.define<UserEntity>("User", userAttributes, {
    tableName: "users",
    timestamps: false,
    schema,
  });
  return { User, ...defineSessionModels(sequelize, schema) };
}

type UsersThis = DbServiceThis<UsersModels> & DurableEventsMethods & UsersVars;
type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

/** How long another service may take to gather a user's data for an export. */
const EXPORT_TIMEOUT_MS = 15_000;
const STATS_TIMEOUT_MS = 3000;
const userIdParam = { $$strict: true, userId: { type: "string", min: 1, max: 64 } } as const;
const otpParam = { type: "string", min: 1, max: 64 } as const;
const tokenParam = { type: "string", min: 1, max: 512 } as const;
const providerParam = { type: "string", min: 1, max: 64 } as const;
const redirectUriParam = { type: "string", min: 1, max: 2048 } as const;
/** What a provider may put on the callback's query (RFC 6749 §4.1.2, RFC 9207 `iss`). */
const callbackQueryParam = { type: "string", max: 4096, optional: true } as const;

const registerParams = {
  $$strict: true,
  email: emailParam,
  password: newPasswordParam("email"),
  name: displayNameParam,
} as const;
const loginParams = {
  $$strict: true,
  email: { type: "string", min: 1, max: 254 },
  password: passwordParam,
  otp: { ...otpParam, optional: true },
} as const;
const refreshTokenParams = { $$strict: true, refreshToken: tokenParam } as const;
const otpOnlyParams = { $$strict: true, otp: otpParam } as const;
const verifyEmailParams = { $$strict: true, token: tokenParam } as const;
const forgotPasswordParams = { $$strict: true, email: emailParam } as const;
const resetPasswordParams = {
  $$strict: true,
  token: tokenParam,
  password: newPasswordParam(),
} as const;
const changePasswordParams = {
  $$strict: true,
  currentPassword: passwordParam,
  newPassword: newPasswordParam(),
} as const;
const updateMeParams = { ...profileUpdateParams, name: optionalDisplayNameParam } as const;
const listParams = {
  $$strict: true,
  q: { type: "string", trim: true, max: 200, optional: true },
  ...pageParams,
} as const;
const setRolesParams = { ...idParam, roles: rolesParam } as const;
const auditParams = { $$strict: true, ...pageParams } as const;
const suspendParams = {
  ...idParam,
  reason: { type: "string", trim: true, min: 1, max: 500 },
} as const;
const changeEmailParams = {
  $$strict: true,
  newEmail: emailParam,
  password: { ...passwordParam, optional: true },
  otp: { ...otpParam, optional: true },
  code: { ...tokenParam, optional: true },
} as const;
const deleteMeParams = {
  $$strict: true,
  password: { ...passwordParam, optional: true },
  otp: { ...otpParam, optional: true },
  code: { ...tokenParam, optional: true },
} as const;
const oidcStartParams = {
  $$strict: true,
  provider: providerParam,
  redirectUri: redirectUriParam,
} as const;
const oidcCallbackParams = {
  $$strict: true,
  provider: providerParam,
  code: callbackQueryParam,
  state: callbackQueryParam,
  iss: callbackQueryParam,
  error: callbackQueryParam,
  error_description: callbackQueryParam,
  error_uri: callbackQueryParam,
  session_state: callbackQueryParam,
} as const;
const oidcExchangeParams = {
  $$strict: true,
  code: tokenParam,
  otp: { ...otpParam, optional: true },
} as const;
const oidcIdTokenParams = {
  $$strict: true,
  provider: providerParam,
  idToken: { type: "string", min: 1, max: 16_384 },
  nonce: { type: "string", min: 1, max: 512 },
  otp: { ...otpParam, optional: true },
} as const;
const linkStartParams = {
  $$strict: true,
  provider: providerParam,
  redirectUri: redirectUriParam,
} as const;
const searchUsersParams = {
  $$strict: true,
  q: { type: "string", trim: true, min: 1, max: 100 },
} as const;
const followingIdsParams = { $$strict: true, userId: { type: "string", min: 1, max: 64 } } as const;
const profilesParams = {
  ids: { type: "array", items: { type: "string", max: 64 }, max: 1000 },
} as const;

/** `durableEvents` is read by the DurableEvents mixin; moleculer's own schema type does not know it. */
type UsersSchema = ServiceSchema<
  Record<string, never>,
  Record<string, never>,
  UsersVars,
  UsersThis
> & {
  durableEvents: DurableEventHandlers<UsersThis>;
};

const UsersService: UsersSchema = {
  name: "users",
  mixins: [
    DbMixin({
      schema: "users",
      migrations: usersMigrations,
      models: defineUsersModels,
      sync: false,
    }),
    DurableEvents(),
  ],

  actions: {
    register: {
      params: registerParams,
      async handler(ctx: Ctx<ParamsOf<typeof registerParams>>) {
        return accounts.register(this.deps, ctx.params, ctx);
      },
    },

    login: {
      params: loginParams,
      async handler(ctx: Ctx<ParamsOf<typeof loginParams>>) {
        return accounts.login(this.deps, ctx.params, ctx);
      },
    },

    refresh: {
      params: refreshTokenParams,
      async handler(ctx: Ctx<ParamsOf<typeof refreshTokenParams>>) {
        return accounts.refresh(this.deps, ctx.params.refreshToken, ctx);
      },
    },

    logout: {
      auth: true,
      params: refreshTokenParams,
      async handler(ctx: Ctx<ParamsOf<typeof refreshTokenParams>>) {
        await logout(this.deps, actorOf(ctx).id, ctx.params.refreshToken, ctx);
        return null;
      },
    },

    sessions: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return listSessions(this.deps, actorOf(ctx).id, ctx.meta.user?.sid);
      },
    },

    revokeSession: {
      auth: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        const userId = actorOf(ctx).id;
        const { id } = ctx.params;
        // Someone else's session id answers like one that does not exist.
        const revoked = UUID.test(id)
          ? await this.withTransaction(t =>
              revokeSessions(this.deps, t, userId, "revoked", { only: id }),
            )
          : [];
        if (revoked.length === 0) throw sessionNotFound(id);
        await this.deps.revoke(
          revoked.map(sid => sessionEnded(sid)),
          ctx,
        );
        return null;
      },
    },

    mfaSetup: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return mfaFlows.setupMfa(this.deps, actorOf(ctx).id);
      },
    },

    mfaEnable: {
      auth: true,
      params: otpOnlyParams,
      async handler(ctx: Ctx<ParamsOf<typeof otpOnlyParams>>) {
        await mfaFlows.enableMfa(
          this.deps,
          actorOf(ctx).id,
          ctx.params.otp,
          ctx,
          accounts.rejectTooMany,
        );
        return null;
      },
    },

    mfaDisable: {
      auth: true,
      params: otpOnlyParams,
      async handler(ctx: Ctx<ParamsOf<typeof otpOnlyParams>>) {
        await mfaFlows.disableMfa(
          this.deps,
          actorOf(ctx).id,
          ctx.params.otp,
          ctx,
          accounts.rejectTooMany,
        );
        return null;
      },
    },

    /** New recovery codes for a signed-in user, given a current TOTP code; the old ones stop working. */
    mfaRecoveryCodes: {
      auth: true,
      params: otpOnlyParams,
      async handler(ctx: Ctx<ParamsOf<typeof otpOnlyParams>>) {
        return mfaFlows.regenerateRecoveryCodes(
          this.deps,
          actorOf(ctx).id,
          ctx.params.otp,
          ctx,
          accounts.rejectTooMany,
        );
      },
    },

    verifyEmail: {
      params: verifyEmailParams,
      async handler(ctx: Ctx<ParamsOf<typeof verifyEmailParams>>) {
        await credentials.verifyEmail(this.deps, ctx.params.token, ctx);
        return null;
      },
    },

    forgotPassword: {
      params: forgotPasswordParams,
      async handler(ctx: Ctx<ParamsOf<typeof forgotPasswordParams>>) {
        // Answer first, then look the address up: a taken and a free email look the same, timing included.
        const work = credentials
          .requestPasswordReset(this.deps, ctx.params.email, ctx)
          .catch(err => this.logger.error("Password reset request failed:", (err as Error).message))
          .finally(() => this.pending.delete(work));
        this.pending.add(work);
        return { accepted: true };
      },
    },

    resetPassword: {
      params: resetPasswordParams,
      async handler(ctx: Ctx<ParamsOf<typeof resetPasswordParams>>) {
        await credentials.resetPassword(this.deps, ctx.params.token, ctx.params.password, ctx);
        return null;
      },
    },

    changePassword: {
      auth: true,
      params: changePasswordParams,
      async handler(ctx: Ctx<ParamsOf<typeof changePasswordParams>>) {
        await credentials.changePassword(
          this.deps,
          actorOf(ctx).id,
          ctx.params,
          ctx,
          accounts.rejectTooMany,
        );
        return null;
      },
    },

    jwks: {
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      handler() {
        return this.deps.keys.jwks;
      },
    },

    /** Other services' credentials (certificates), signed with the access-token key; never over HTTP. */
    signCredential: {
      internal: true,
      // The params check only that a credential is an object: its shape is the producer's (progress).
      params: { $$strict: true, credential: { type: "object" } },
      handler(ctx: Ctx<CredentialToSign>) {
        return signCredential(this.deps, ctx.params.credential);
      },
    },

    /** The accounts created since a date, a page at a time: progress's analytics rebuild asks. */
    accountsCreated: {
      internal: true,
      params: createdSinceParams,
      handler(ctx: Ctx<ParamsOf<typeof createdSinceParams>>) {
        return accounts.accountsCreated(this.deps, this.dbSchema, ctx.params);
      },
    },

    me: {
      auth: true,
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx) {
        return accounts.profileOf(this.deps, actorOf(ctx).id);
      },
    },

    updateMe: {
      auth: true,
      params: updateMeParams,
      async handler(ctx: Ctx<ParamsOf<typeof updateMeParams>>) {
        return accounts.updateProfile(this.deps, actorOf(ctx).id, ctx.params, ctx);
      },
    },

    list: {
      roles: ["admin"],
      params: listParams,
      async handler(ctx: Ctx<ParamsOf<typeof listParams>>) {
        return accounts.listUsers(this.deps, ctx.params);
      },
    },

    setRoles: {
      roles: ["admin"],
      params: setRolesParams,
      async handler(ctx: Ctx<ParamsOf<typeof setRolesParams>>) {
        return admin.setUserRoles(this.deps, existingUserId(ctx.params.id), ctx.params.roles, ctx);
      },
    },

    audit: {
      roles: ["admin"],
      params: auditParams,
      async handler(ctx: Ctx<ParamsOf<typeof auditParams>>) {
        return admin.auditLog(this.deps, ctx.params);
      },
    },

    getUser: {
      roles: ["admin"],
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        return admin.adminView(this.deps, existingUserId(ctx.params.id));
      },
    },

    suspend: {
      roles: ["admin"],
      params: suspendParams,
      async handler(ctx: Ctx<ParamsOf<typeof suspendParams>>) {
        return admin.suspendUser(this.deps, existingUserId(ctx.params.id), ctx.params.reason, ctx);
      },
    },

    unsuspend: {
      roles: ["admin"],
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        return admin.unsuspendUser(this.deps, existingUserId(ctx.params.id), ctx);
      },
    },

    /** DELETE /users/:id: erasure in every service, as for DELETE /me (user.deleted). */
    erase: {
      roles: ["admin"],
      params: idParam,
      handler(ctx: Ctx<IdInput>) {
        return admin.eraseUser(this.deps, existingUserId(ctx.params.id), ctx);
      },
    },

    resendVerification: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        await selfService.resendVerification(this.deps, actorOf(ctx).id, ctx);
        return { accepted: true };
      },
    },

    changeEmail: {
      auth: true,
      params: changeEmailParams,
      async handler(ctx: Ctx<ParamsOf<typeof changeEmailParams>>) {
        await selfService.requestEmailChange(
          this.deps,
          actorOf(ctx).id,
          ctx.params,
          ctx,
          accounts.rejectTooMany,
        );
        return { accepted: true };
      },
    },

    exportMe: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        const userId = actorOf(ctx).id;
        ctx.meta.$responseHeaders = {
          "Content-Disposition": `attachment; filename="lingomesh-export-${userId}.json"`,
          "Cache-Control": "no-store",
        };
        return selfService.exportOwnData(this.deps, userId, ctx);
      },
    },

    /** DELETE /me: erasure in every service (user.deleted), after proving who one is again. */
    deleteMe: {
      auth: true,
      params: deleteMeParams,
      async handler(ctx: Ctx<ParamsOf<typeof deleteMeParams>>) {
        return selfService.deleteOwnAccount(
          this.deps,
          actorOf(ctx).id,
          ctx.params,
          ctx,
          accounts.rejectTooMany,
        );
      },
    },

    /** Deletes an account and everything of it (REPL: `call users.remove --id …`); emits user.deleted. */
    remove: {
      internal: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        return accounts.removeUser(this.deps, existingUserId(ctx.params.id), ctx);
      },
    },

    providers: {
      params: { $$strict: true },
      handler() {
        return providerSignIn.listProviders(this.deps);
      },
    },

    oidcStart: {
      params: oidcStartParams,
      async handler(ctx: Ctx<ParamsOf<typeof oidcStartParams>>) {
        return providerSignIn.startFlow(
          this.deps,
          ctx.params.provider,
          ctx.params.redirectUri,
          null,
        );
      },
    },

    oidcCallback: {
      params: oidcCallbackParams,
      async handler(ctx: Ctx<ParamsOf<typeof oidcCallbackParams>>) {
        const { provider, ...query } = ctx.params;
        redirectTo(ctx, await providerSignIn.finishFlow(this.deps, provider, query, ctx));
        ctx.meta.$responseHeaders = { "Cache-Control": "no-store" };
        return null;
      },
    },

    oidcExchange: {
      params: oidcExchangeParams,
      async handler(ctx: Ctx<ParamsOf<typeof oidcExchangeParams>>) {
        return providerSignIn.exchangeCode(this.deps, ctx.params.code, ctx.params.otp, ctx);
      },
    },

    oidcIdToken: {
      params: oidcIdTokenParams,
      async handler(ctx: Ctx<ParamsOf<typeof oidcIdTokenParams>>) {
        const { provider, ...token } = ctx.params;
        return providerSignIn.signInWithIdToken(this.deps, provider, token, ctx);
      },
    },

    identities: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return providerSignIn.listIdentities(this.deps, actorOf(ctx).id);
      },
    },

    linkStart: {
      auth: true,
      params: linkStartParams,
      async handler(ctx: Ctx<ParamsOf<typeof linkStartParams>>) {
        const { provider, redirectUri } = ctx.params;
        return providerSignIn.startFlow(this.deps, provider, redirectUri, actorOf(ctx).id);
      },
    },

    unlinkIdentity: {
      auth: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        const { id } = ctx.params;
        // Someone else's identity id answers like one that does not exist.
        if (!UUID.test(id)) throw identityNotFound(id);
        await providerSignIn.unlinkIdentity(this.deps, actorOf(ctx).id, id);
        return null;
      },
    },

    searchUsers: {
      auth: true,
      params: searchUsersParams,
      async handler(ctx: Ctx<ParamsOf<typeof searchUsersParams>>) {
        return social.searchUsers(this.deps, actorOf(ctx).id, ctx.params.q);
      },
    },

    profilePage: {
      auth: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>) {
        const id = existingUserId(ctx.params.id);
        return social.profilePage(this.deps, actorOf(ctx).id, id, ctx);
      },
    },

    follow: {
      auth: true,
      params: userIdParam,
      async handler(ctx: Ctx<ParamsOf<typeof userIdParam>>) {
        const id = existingUserId(ctx.params.userId);
        await social.followUser(this.deps, actorOf(ctx).id, id, ctx);
        return null;
      },
    },

    unfollow: {
      auth: true,
      params: userIdParam,
      async handler(ctx: Ctx<ParamsOf<typeof userIdParam>>) {
        if (UUID.test(ctx.params.userId)) {
          await social.unfollowUser(this.deps, actorOf(ctx).id, ctx.params.userId);
        }
        return null;
      },
    },

    following: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return social.relations(this.deps, actorOf(ctx).id, "following");
      },
    },

    followers: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return social.relations(this.deps, actorOf(ctx).id, "followers");
      },
    },

    blocked: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx) {
        return social.relations(this.deps, actorOf(ctx).id, "blocked");
      },
    },

    block: {
      auth: true,
      params: userIdParam,
      async handler(ctx: Ctx<ParamsOf<typeof userIdParam>>) {
        await social.blockUser(this.deps, actorOf(ctx).id, existingUserId(ctx.params.userId));
        return null;
      },
    },

    unblock: {
      auth: true,
      params: userIdParam,
      async handler(ctx: Ctx<ParamsOf<typeof userIdParam>>) {
        if (UUID.test(ctx.params.userId)) {
          await social.unblockUser(this.deps, actorOf(ctx).id, ctx.params.userId);
        }
        return null;
      },
    },

    /** Whom a user follows, for progress's `GET /leaderboard?scope=following`. */
    followingIds: {
      internal: true,
      params: followingIdsParams,
      async handler(ctx: Ctx<ParamsOf<typeof followingIdsParams>>) {
        const following = await social.relations(this.deps, ctx.params.userId, "following");
        return following.map(profile => profile.id);
      },
    },

    /** Display data of several users at once, for other services (cached; cleaned on every change). */
    profiles: {
      internal: true,
      params: profilesParams,
      cache: { keys: ["ids"] },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx<ParamsOf<typeof profilesParams>>) {
        return accounts.summaries(this.deps, ctx.params.ids);
      },
    },
  },

  durableEvents: {
    // The consumers may deliver before `started` builds `deps`: the database is all this needs.
    async "progress.placement.completed"(
      event: EventEnvelope<"progress.placement.completed">,
      t: Transaction,
    ) {
      await recordPlacedLevel(
        { db: { sequelize: this.sequelize, schema: this.dbSchema } },
        event.data,
        t,
      );
    },
  },

  created() {
    this.pending = new Set();
  },

  async started() {
    const cfg = configOf(this.broker);
    // Cluster mode without a key pair ends the start here (security.md line 17).
    const keys = await loadSigningKeys(cfg);
    if (cfg.redisUrl) {
      const redis = createRedis(cfg.redisUrl);
      redis.on("error", (err: Error) => this.logger.debug("users: Redis error:", err.message));
      this.redis = redis;
      registerHealthCheck(this.broker, "redis:users", () => redis.ping());
    }
    const revocations = revocationStoreOf(this.broker, this.redis, cfg.redisPrefix);
    this.deps = {
      cfg,
      User: this.models.User,
      models: this.models,
      db: { sequelize: this.sequelize, schema: this.dbSchema },
      withTransaction: fn => this.withTransaction(fn),
      emitDurable: (type, data, opts) => this.emitDurable(type, data, opts),
      // The flows pass the action's own context along: broadcasting with it keeps the request id.
      userChanged: (userId, ctx) => this.clearCache(ctx),
      revoke: async (entries, ctx) => {
        if (entries.length === 0) return;
        // The store is for gateways that start later; the broadcast reaches those running now,
        // so a store that is down does not keep the revocation from working.
        await revocations
          .add(entries)
          .catch((err: Error) =>
            this.logger.warn(
              `users: revocations not stored (gateways starting later miss them): ${err.message}`,
            ),
          );
        const payload: RevocationPayload = { entries };
        await this.broker.broadcast(
          REVOCATION_EVENT,
          payload,
          ctx ? { requestID: ctx.requestID } : {},
        );
      },
      keys,
      limits: createAuthLimits(cfg, this.redis),
      oidc: createOidcProviders(cfg),
      statsOf: (userId, ctx) =>
        this.broker.call(
          "progress.publicStats",
          { userId },
          { timeout: STATS_TIMEOUT_MS, ...(ctx?.requestID ? { requestID: ctx.requestID } : {}) },
        ),
      exportOf: (service, userId, ctx) =>
        this.broker.call(
          `${service}.exportData`,
          { userId },
          { timeout: EXPORT_TIMEOUT_MS, ...(ctx?.requestID ? { requestID: ctx.requestID } : {}) },
        ),
      logger: this.logger,
    };
    await dummyPasswordHash();
    if (cfg.adminEmail && cfg.adminPassword) {
      await accounts.ensureAdmin(this.deps, cfg.adminEmail, cfg.adminPassword, this.dbSchema);
    }
  },

  async stopped() {
    await Promise.allSettled([...this.pending]);
    if (this.redis) {
      unregisterHealthCheck(this.broker, "redis:users");
      this.redis.disconnect();
    }
  },
};

export default UsersService;
