import type { Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type {
  Model,
  ModelStatic,
  PoolOptions,
  Sequelize,
  Transaction,
  TransactionOptions,
} from "sequelize";
import { configOf } from "../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import {
  createSequelize,
  redactMessage,
  redactUrl,
  rootMessage,
  waitForDatabase,
  type DbTarget,
} from "../lib/db/connection";
import { acquireEmbeddedPostgres, type EmbeddedPostgres } from "../lib/db/embedded";
import { migrate, type Migration } from "../lib/db/migrator";
import { CacheCleaner, type CacheCleanerMethods, type MixinSchema } from "./cache-cleaner.mixin";

export type { Migration };

/**
 * Data mixin: a service's own PostgreSQL schema (database per service) through Sequelize —
 * the connection, migrations at start under an advisory lock, transactions, the embedded
 * PGlite store when DATABASE_URL is unset, cache cleaning on every node and a
 * `database:<schema>` readiness check. The service's stores query it through
 * `lib/db/sql.ts`, or through the Sequelize models `models` defines.
 *
 *   mixins: [DbMixin({ schema: "users", migrations, models: (sequelize, schema) => … })]
 *
 * Not moleculer-db: its gift is generic CRUD actions over one entity, and no service here
 * offers those (users' would hand out password hashes); every write goes with its outbox
 * row in one transaction, which the adapter's actions do not take.
 *
 * Start order, wherever DbMixin sits among the mixins: its created/started run before
 * those of every other mixin and of the service, and its stopped runs after them. So in
 * any `started` the schema is migrated and `this.sequelize` and `this.models` work; in any
 * `created` they exist (no query yet); in `stopped` the database is still open.
 */

/** What `opts.models` returns: an object of Sequelize models (an interface is fine). */
export type DbModels = object;

export interface DbMixinOptions<M extends DbModels = DbModels> {
  /** The service's own PostgreSQL schema; created if missing. */
  schema: string;
  /** Applied in order at start, once per database, under a lock. */
  migrations?: readonly Migration[];
  /** The service's Sequelize models, defined on its Sequelize instance in its schema. */
  models?: (sequelize: Sequelize, schema: string) => M;
  /**
   * After the migrations, create the table of any model of `models` that no
   * migration created (CREATE TABLE IF NOT EXISTS, never ALTER). Default true; set false
   * when the migrations own every table.
   */
  sync?: boolean;
  /** Other services whose `cache.clean.<name>` also clears this service's cached results. */
  cacheCleanOn?: readonly string[];
  /** How long start waits for an unreachable database before failing the node. Default 30 s. */
  startTimeoutMs?: number;
  /** Overrides of the connection pool (see lib/db/connection.ts for the defaults and why). */
  pool?: PoolOptions;
}

/** Properties DbMixin gives the service. */
export interface DbServiceVars<M extends DbModels = DbModels> {
  /** This service's Sequelize instance; its tables live in `dbSchema`. */
  sequelize: Sequelize;
  /** The PostgreSQL schema of this service. */
  dbSchema: string;
  /** What `opts.models` returned. */
  models: M;
}

/** Methods DbMixin gives the service. */
export interface DbServiceMethods extends CacheCleanerMethods {
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws.
   * Pass `{ transaction: t }` to every query inside (embedded store: a query outside the
   * transaction would wait for it to end — a deadlock).
   */
  withTransaction<T>(fn: (t: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

/** `this` inside a service using DbMixin. */
export type DbServiceThis<M extends DbModels = DbModels, S = ServiceSettingSchema> = Service<S> &
  DbServiceVars<M> &
  DbServiceMethods;

interface DbState {
  target: DbTarget;
  describe: string;
  lease?: Promise<EmbeddedPostgres>;
  stopped: boolean;
}

type Internal = DbServiceThis & { _db: DbState };

function isModel(value: unknown): value is ModelStatic<Model> {
  return typeof value === "function" && typeof (value as { sync?: unknown }).sync === "function";
}

/** Moves `fn` to the front of a merged lifecycle list. */
function first<H>(list: H | H[] | undefined, fn: H): H | H[] | undefined {
  if (!Array.isArray(list)) return list;
  return [fn, ...list.filter(item => item !== fn)];
}

/**
 * The mixin. Type the service with the exported types, e.g.
 * `ServiceSchema<Settings, DbServiceMethods & OwnMethods, DbServiceVars<Models>>`.
 */
export function DbMixin<M extends DbModels = DbModels>(
  opts: DbMixinOptions<M>,
): Partial<ServiceSchema> {
  const { schema } = opts;
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new Error(`DbMixin: schema "${schema}" must be a lower-case SQL identifier`);
  }

  function created(this: Service) {
    const self = this as Internal;
    const cfg = configOf(this.broker);
    const state: DbState = {
      stopped: false,
      target: { kind: "url", url: "" },
      describe: "",
    };
    if (cfg.databaseUrl) {
      state.target = { kind: "url", url: cfg.databaseUrl };
      state.describe = `the database of service "${self.fullName}" (DATABASE_URL=${redactUrl(cfg.databaseUrl)})`;
    } else {
      const dataDir = cfg.dataDir;
      state.target = {
        kind: "embedded",
        endpoint: async () => {
          if (state.stopped)
            throw new Error(
              `service ${self.fullName} has stopped; its database connection is closed`,
            );
          state.lease ??= acquireEmbeddedPostgres(dataDir);
          return state.lease;
        },
      };
      state.describe = `the embedded database of service "${self.fullName}" (DATA_DIR=${dataDir})`;
    }
    self._db = state;
    self.dbSchema = schema;
    self.sequelize = createSequelize({
      target: state.target,
      applicationName: `lingomesh:${self.broker.nodeID}:${schema}`,
      pool: opts.pool,
      logging: sql => self.logger.trace(sql),
    });
    self.models = opts.models ? opts.models(self.sequelize, schema) : ({} as M);
  }

  async function started(this: Service) {
    const self = this as Internal;
    const state = self._db;
    state.stopped = false;
    registerHealthCheck(self.broker, `database:${schema}`, () => self.sequelize.query("SELECT 1"));
    await waitForDatabase(self.sequelize, {
      describe: state.describe,
      timeoutMs: opts.startTimeoutMs ?? 30_000,
      onRetry: message => self.logger.warn(message),
    });
    try {
      const applied = await migrate({
        sequelize: self.sequelize,
        schema,
        migrations: opts.migrations ?? [],
        afterMigrations: opts.sync === false ? undefined : () => syncModels(self),
        log: self.logger,
        embedded: state.target.kind === "embedded",
      });
      if (applied.length > 0)
        self.logger.info(
          `schema ${schema}: applied ${applied.length} migration(s): ${applied.join(", ")}`,
        );
    } catch (err) {
      throw new Error(
        `schema ${schema} of service "${self.fullName}" could not be migrated: ${redactMessage(rootMessage(err))}`,
        {
          cause: err,
        },
      );
    }
  }

  async function syncModels(service: Internal): Promise<void> {
    for (const model of Object.values(service.models) as unknown[]) {
      if (isModel(model)) await model.sync();
    }
  }

  async function stopped(this: Service) {
    const self = this as Internal;
    const state = self._db;
    unregisterHealthCheck(self.broker, `database:${schema}`);
    try {
      await self.sequelize.close();
    } finally {
      state.stopped = true;
      const lease = state.lease;
      state.lease = undefined;
      if (lease) await (await lease.catch(() => undefined))?.release();
    }
  }

  const mixin: MixinSchema = {
    mixins: [CacheCleaner({ also: opts.cacheCleanOn })],
    merged(this: Service, merged: ServiceSchema) {
      // Lifecycle handlers of mixins run last-mixin-first; the database must come first on
      // start and last on stop whatever the service lists (stopped runs in reverse).
      merged.created = first(merged.created, created);
      merged.started = first(merged.started, started);
      merged.stopped = first(merged.stopped, stopped);
    },
    created,
    started,
    stopped,
    methods: {
      async withTransaction<T>(
        this: Internal,
        fn: (t: Transaction) => Promise<T>,
        options?: TransactionOptions,
      ): Promise<T> {
        return this.sequelize.transaction(options ?? {}, t => fn(t));
      },
    },
  };
  return mixin;
}
