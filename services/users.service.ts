import type { Context, ServiceSchema } from "moleculer";
import type Redis from "ioredis";
import { configOf } from "../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { createRedis } from "../lib/redis";
import { READ_RETRY } from "../moleculer.config";
import { DbMixin, type DbServiceThis } from "../mixins/db.mixin";
import { DurableEvents, type DurableEventsMethods } from "../mixins/durable-events.mixin";
import type { RequestMeta, Role } from "../models/auth.model";
import { defineSessionModels, type SessionModels } from "../models/session.model";
import {
  emailParam,
  nameParam,
  passwordParam,
  profileUpdateParams,
  rolesParam,
  userAttributes,
  type UserModel,
} from "../models/user.model";
import * as accounts from "./users/accounts";
import * as credentials from "./users/credentials";
import type { UsersDeps } from "./users/deps";
import { sessionNotFound, unauthenticated, userNotFound } from "./users/errors";
import { createAuthLimits } from "./users/limits";
import * as mfaFlows from "./users/mfa-flows";
import { usersMigrations } from "./users/migrations";
import { dummyPasswordHash, newPasswordParam } from "./users/passwords";
import { listSessions, logout, revokeSessions } from "./users/sessions";
import { loadSigningKeys } from "./users/tokens";

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

interface UsersMethods {
  requireUser(ctx: { meta: RequestMeta }): string;
}

type UsersThis = DbServiceThis<SessionModels> & DurableEventsMethods & UsersVars & UsersMethods;
type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const otpParam = { type: "string", min: 1, max: 64 } as const;
const tokenParam = { type: "string", min: 1, max: 512 } as const;

const UsersService: ServiceSchema<Record<string, never>, UsersMethods, UsersVars, UsersThis> = {
  name: "users",
  mixins: [
    DbMixin({
      schema: "users",
      migrations: usersMigrations,
      entity: {
        name: "User",
        define: userAttributes,
        options: { tableName: "users", timestamps: false },
      },
      models: defineSessionModels,
      sync: false,
      // moleculer-db's generic CRUD would hand out password hashes; the actions below are the API.
      crudActions: false,
    }),
    DurableEvents(),
  ],

  actions: {
    register: {
      params: {
        $$strict: true,
        email: emailParam,
        password: newPasswordParam("email"),
        name: nameParam,
      },
      async handler(this: UsersThis, ctx: Ctx<{ email: string; password: string; name: string }>) {
        return accounts.register(this.deps, ctx.params, ctx);
      },
    },

    login: {
      params: {
        $$strict: true,
        email: { type: "string", min: 1, max: 254 },
        password: passwordParam,
        otp: { ...otpParam, optional: true },
      },
      async handler(this: UsersThis, ctx: Ctx<{ email: string; password: string; otp?: string }>) {
        return accounts.login(this.deps, ctx.params, ctx);
      },
    },

    refresh: {
      params: { $$strict: true, refreshToken: tokenParam },
      async handler(this: UsersThis, ctx: Ctx<{ refreshToken: string }>) {
        return accounts.refresh(this.deps, ctx.params.refreshToken, ctx);
      },
    },

    logout: {
      auth: true,
      params: { $$strict: true, refreshToken: tokenParam },
      async handler(this: UsersThis, ctx: Ctx<{ refreshToken: string }>) {
        await logout(this.deps, this.requireUser(ctx), ctx.params.refreshToken);
        return null;
      },
    },

    sessions: {
      auth: true,
      params: { $$strict: true },
      async handler(this: UsersThis, ctx: Ctx) {
        return listSessions(this.deps, this.requireUser(ctx), ctx.meta.user?.sid);
      },
    },

    revokeSession: {
      auth: true,
      params: { $$strict: true, id: { type: "string", min: 1, max: 64 } },
      async handler(this: UsersThis, ctx: Ctx<{ id: string }>) {
        const userId = this.requireUser(ctx);
        const { id } = ctx.params;
        // Someone else's session id answers like one that does not exist.
        const revoked = UUID.test(id)
          ? await this.withTransaction(t =>
              revokeSessions(this.deps, t, userId, "revoked", { only: id }),
            )
          : 0;
        if (revoked === 0) throw sessionNotFound(id);
        return null;
      },
    },

    mfaSetup: {
      auth: true,
      params: { $$strict: true },
      async handler(this: UsersThis, ctx: Ctx) {
        return mfaFlows.setupMfa(this.deps, this.requireUser(ctx));
      },
    },

    mfaEnable: {
      auth: true,
      params: { $$strict: true, otp: otpParam },
      async handler(this: UsersThis, ctx: Ctx<{ otp: string }>) {
        await mfaFlows.enableMfa(
          this.deps,
          this.requireUser(ctx),
          ctx.params.otp,
          ctx,
          accounts.rejectTooMany,
        );
        return null;
      },
    },

    mfaDisable: {
      auth: true,
      params: { $$strict: true, otp: otpParam },
      async handler(this: UsersThis, ctx: Ctx<{ otp: string }>) {
        await mfaFlows.disableMfa(
          this.deps,
          this.requireUser(ctx),
          ctx.params.otp,
          ctx,
          accounts.rejectTooMany,
        );
        return null;
      },
    },

    /** Not in the REST contract (yet): new recovery codes for a signed-in user, given a current TOTP code. */
    mfaRecoveryCodes: {
      auth: true,
      internal: true,
      params: { $$strict: true, otp: otpParam },
      async handler(this: UsersThis, ctx: Ctx<{ otp: string }>) {
        return mfaFlows.regenerateRecoveryCodes(
          this.deps,
          this.requireUser(ctx),
          ctx.params.otp,
          ctx,
          accounts.rejectTooMany,
        );
      },
    },

    verifyEmail: {
      params: { $$strict: true, token: tokenParam },
      async handler(this: UsersThis, ctx: Ctx<{ token: string }>) {
        await credentials.verifyEmail(this.deps, ctx.params.token, ctx);
        return null;
      },
    },

    forgotPassword: {
      params: { $$strict: true, email: emailParam },
      async handler(this: UsersThis, ctx: Ctx<{ email: string }>) {
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
      params: { $$strict: true, token: tokenParam, password: newPasswordParam() },
      async handler(this: UsersThis, ctx: Ctx<{ token: string; password: string }>) {
        await credentials.resetPassword(this.deps, ctx.params.token, ctx.params.password);
        return null;
      },
    },

    changePassword: {
      auth: true,
      params: {
        $$strict: true,
        currentPassword: passwordParam,
        newPassword: newPasswordParam(),
      },
      async handler(this: UsersThis, ctx: Ctx<{ currentPassword: string; newPassword: string }>) {
        await credentials.changePassword(
          this.deps,
          this.requireUser(ctx),
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
      handler(this: UsersThis) {
        return this.deps.keys.jwks;
      },
    },

    me: {
      auth: true,
      params: { $$strict: true },
      retryPolicy: READ_RETRY,
      async handler(this: UsersThis, ctx: Ctx) {
        return accounts.profileOf(this.deps, this.requireUser(ctx));
      },
    },

    updateMe: {
      auth: true,
      params: profileUpdateParams,
      async handler(this: UsersThis, ctx: Ctx<accounts.ProfileChanges>) {
        return accounts.updateProfile(this.deps, this.requireUser(ctx), ctx.params, ctx);
      },
    },

    list: {
      roles: ["admin"],
      params: {
        $$strict: true,
        q: { type: "string", trim: true, max: 200, optional: true },
        page: { type: "number", integer: true, positive: true, convert: true, default: 1 },
        pageSize: {
          type: "number",
          integer: true,
          positive: true,
          max: 100,
          convert: true,
          default: 20,
        },
      },
      async handler(this: UsersThis, ctx: Ctx<{ q?: string; page: number; pageSize: number }>) {
        return accounts.listUsers(this.deps, ctx.params);
      },
    },

    setRoles: {
      roles: ["admin"],
      params: { $$strict: true, id: { type: "string", min: 1, max: 64 }, roles: rolesParam },
      async handler(this: UsersThis, ctx: Ctx<{ id: string; roles: Role[] }>) {
        if (!UUID.test(ctx.params.id)) throw userNotFound(ctx.params.id);
        return accounts.setRoles(this.deps, ctx.params.id, ctx.params.roles, ctx);
      },
    },

    /** Deletes an account and everything of it (REPL: `call users.remove --id …`); emits user.deleted. */
    remove: {
      internal: true,
      params: { $$strict: true, id: { type: "string", min: 1, max: 64 } },
      async handler(this: UsersThis, ctx: Ctx<{ id: string }>) {
        if (!UUID.test(ctx.params.id)) throw userNotFound(ctx.params.id);
        return accounts.removeUser(this.deps, ctx.params.id, ctx);
      },
    },

    /** Display data of several users at once, for other services (cached; cleaned on every change). */
    profiles: {
      internal: true,
      params: { ids: { type: "array", items: { type: "string", max: 64 }, max: 1000 } },
      cache: { keys: ["ids"] },
      retryPolicy: READ_RETRY,
      async handler(this: UsersThis, ctx: Ctx<{ ids: string[] }>) {
        return accounts.summaries(this.deps, ctx.params.ids);
      },
    },
  },

  methods: {
    requireUser(ctx: { meta: RequestMeta }): string {
      const id = ctx.meta.user?.id;
      if (!id) throw unauthenticated();
      return id;
    },
  },

  created(this: UsersThis) {
    this.pending = new Set();
  },

  async started(this: UsersThis) {
    const cfg = configOf(this.broker);
    // Cluster mode without a key pair ends the start here (security.md line 17).
    const keys = await loadSigningKeys(cfg);
    if (cfg.redisUrl) {
      const redis = createRedis(cfg.redisUrl);
      redis.on("error", (err: Error) => this.logger.debug("users: Redis error:", err.message));
      this.redis = redis;
      registerHealthCheck(this.broker, "redis:users", () => redis.ping());
    }
    this.deps = {
      cfg,
      User: this.model as unknown as UserModel,
      models: this.models,
      withTransaction: fn => this.withTransaction(fn),
      emitDurable: (type, data, opts) => this.emitDurable(type, data, opts),
      // The flows pass the action's own context along: broadcasting with it keeps the request id.
      userChanged: (userId, ctx) =>
        this.entityChanged("updated", { id: userId }, ctx as Context | undefined),
      keys,
      limits: createAuthLimits(cfg, this.redis),
      logger: this.logger,
    };
    await dummyPasswordHash();
    if (cfg.adminEmail && cfg.adminPassword) {
      await accounts.ensureAdmin(this.deps, cfg.adminEmail, cfg.adminPassword, this.dbSchema);
    }
  },

  async stopped(this: UsersThis) {
    await Promise.allSettled([...this.pending]);
    if (this.redis) {
      unregisterHealthCheck(this.broker, "redis:users");
      this.redis.disconnect();
    }
  },
};

export default UsersService;
