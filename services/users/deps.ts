import type { Context, Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { Revocation } from "../../lib/auth/revocations";
import type { AppConfig } from "../../lib/config";
import type { DomainEvents, DomainEventType } from "../../models/events.model";
import type { LearnerPublicStats } from "../../models/progress.model";
import type { SessionModels } from "../../models/session.model";
import type { UserModel } from "../../models/user.model";
import type { AuthLimits } from "./limits";
import type { OidcProviders } from "./oidc-providers";
import type { UsersDb } from "./store/db";
import type { SigningKeys } from "./tokens";

/** The other services that hold data about a user, each answering for its own (`<service>.exportData`). */
export const EXPORTING_SERVICES = ["progress", "notify"] as const;
type ExportingService = (typeof EXPORTING_SERVICES)[number];

/** What the identity flows need from the service around them (built once in `created`/`started`). */
export interface UsersDeps {
  cfg: AppConfig;
  User: UserModel;
  models: SessionModels;
  /** For the stores over lib/db/sql.ts (services/users/store/*). */
  db: UsersDb;
  withTransaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  emitDurable: <K extends DomainEventType>(
    type: K,
    data: DomainEvents[K],
    opts: { transaction: Transaction; ctx?: Pick<Context, "requestID"> },
  ) => Promise<unknown>;
  /** Clears every node's cached results of this service that involve the user. */
  userChanged: (userId: string, ctx?: Pick<Context, "requestID">) => Promise<void>;
  /**
   * Makes access tokens stop working now, not at their expiry: records the revocations for
   * gateways that start later and broadcasts them to every gateway running. Call it after
   * the transaction that ended the sessions has committed.
   */
  revoke: (entries: Revocation[], ctx?: Pick<Context, "requestID">) => Promise<void>;
  keys: SigningKeys;
  limits: AuthLimits;
  oidc: OidcProviders;
  /** A learner's XP, streak and achievements, from progress (the public profile page). */
  statsOf: (userId: string, ctx?: Pick<Context, "requestID">) => Promise<LearnerPublicStats>;
  /** What another service holds about a user, asked over the broker (GET /me/export). */
  exportOf: (
    service: ExportingService,
    userId: string,
    ctx?: Pick<Context, "requestID">,
  ) => Promise<Record<string, unknown[]>>;
  logger: Logger;
}
