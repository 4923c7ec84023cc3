import type { Context, Service, ServiceSchema, ServiceSettingSchema } from "moleculer";
import DbService, { type DbServiceSettings, type MoleculerDbMethods } from "moleculer-db";
import SequelizeDbAdapter from "moleculer-db-adapter-sequelize";
import type {
  Model,
  ModelAttributes,
  ModelOptions,
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
 * Data mixin: moleculer-db with the Sequelize adapter on PostgreSQL, one schema per
 * service (database per service), migrations at start under an advisory lock, the
 * embedded PGlite store when DATABASE_URL is unset, cache cleaning on every node and a
 * `database:<schema>` readiness check.
 *
 *   mixins: [DbMixin({ schema: "users", migrations, entity: { name: "user", define, options } })]
 *
 * Start order, wherever DbMixin sits among the mixins: its created/started run before
 * those of every other mixin and of the service, and its stopped runs after them. So in
 * any `started` the schema is migrated and `this.sequelize`, `this.models` and
 * `this.adapter` work; in any `created` they exist (no query yet); in `stopped` the
 * database is still open.
 */

interface DbEntity {
  /** Sequelize model name. */
  name: string;
  define: ModelAttributes;
  /** Sequelize model options; `schema` is always the mixin's. */
  options?: Omit<ModelOptions, "schema">;
}

/** What `opts.models` returns: an object of Sequelize models (an interface is fine). */
export type DbModels = object;

export interface DbMixinOptions<M extends DbModels = DbModels> {
  /** The service's own PostgreSQL schema; created if missing. */
  schema: string;
  /** Applied in order at start, once per database, under a lock. */
  migrations?: readonly Migration[];
  /** The moleculer-db main entity (`this.adapter`, `this.model`). */
  entity: DbEntity;
  /** More models of the service, defined on its Sequelize instance in its schema. */
  models?: (sequelize: Sequelize, schema: string) => M;
  /**
   * After the migrations, create the table of any model (entity and `models`) that no
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
  /**
   * moleculer-db's CRUD actions (find, list, count, get, create, insert, update, remove).
   * Default true; they are marked `internal` (never routed at the gateway).
   */
  crudActions?: boolean;
}

/** Properties DbMixin gives the service. */
export interface DbServiceVars<M extends DbModels = DbModels, E extends Model = Model> {
  adapter: SequelizeDbAdapter;
  /** This service's Sequelize instance; its tables live in `dbSchema`. */
  sequelize: Sequelize;
  /** The PostgreSQL schema of this service. */
  dbSchema: string;
  /** The main entity's model (E: its row types, as the service's `entity.define` declares them). */
  model: ModelStatic<E>;
  /** What `opts.models` returned. */
  models: M;
}

/** Methods DbMixin gives the service (moleculer-db's plus these). */
export interface DbServiceMethods
  extends Omit<MoleculerDbMethods, "entityChanged" | "clearCache">, CacheCleanerMethods {
  /**
   * Runs `fn` in a transaction: committed when it resolves, rolled back when it throws.
   * Pass `{ transaction: t }` to every query inside (embedded store: a query outside the
   * transaction would wait for it to end — a deadlock).
   */
  withTransaction<T>(fn: (t: Transaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Call after a change: clears this service's cached results here and on every node
   * (`cache.clean.<service>`), then runs the schema's `entityCreated/Updated/Removed` hook.
   */
  entityChanged(
    type: "created" | "updated" | "removed" | (string & {}),
    json: unknown,
    ctx?: Context,
    raw?: unknown,
  ): Promise<void>;
}

/** `this` inside a service using DbMixin. */
export type DbServiceThis<
  M extends DbModels = DbModels,
  S = ServiceSettingSchema,
  E extends Model = Model,
> = Service<S> & DbServiceVars<M, E> & DbServiceMethods;

/** Settings DbMixin sets (moleculer-db's). */
export type DbSettings = DbServiceSettings & ServiceSettingSchema;

interface DbState {
  target: DbTarget;
  describe: string;
  lease?: Promise<EmbeddedPostgres>;
  stopped: boolean;
}

type Internal = DbServiceThis & { _db: DbState; schema: Record<string, unknown> };

const CRUD_ACTIONS = [
  "find",
  "count",
  "list",
  "create",
  "insert",
  "get",
  "update",
  "remove",
] as const;

/** moleculer-db's own started/stopped connect with endless retries; DbMixin runs its own. */
function dbServiceBase(): Partial<ServiceSchema> {
  // Cast: moleculer-db's d.ts declares DbService as a Service subclass; its index.js exports
  // the mixin's schema object, which is what is spread here.
  const base = { ...(DbService as unknown as Partial<ServiceSchema>) };
  delete base.started;
  delete base.stopped;
  return base;
}

function capitalize(type: string): string {
  return type.charAt(0).toUpperCase() + type.slice(1);
}

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
    self.model = self.sequelize.define(opts.entity.name, opts.entity.define, {
      ...opts.entity.options,
      schema,
    });
    self.models = opts.models ? opts.models(self.sequelize, schema) : ({} as M);
    // moleculer-db's created (which runs next) takes the adapter and model from the schema.
    self.schema.model = self.model;
    self.schema.adapter = new SequelizeDbAdapter(self.sequelize);
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
    // moleculer-db's connect: the adapter takes the model and calls `afterConnected`.
    await self.connect();
  }

  async function syncModels(service: Internal): Promise<void> {
    await service.model.sync();
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

  const crud: Record<string, { internal: true } | false> = {};
  for (const action of CRUD_ACTIONS)
    crud[action] = opts.crudActions === false ? false : { internal: true };

  const settings: DbServiceSettings = { idField: "id", maxLimit: 100 };
  const mixin: MixinSchema = {
    mixins: [dbServiceBase(), CacheCleaner({ also: opts.cacheCleanOn })],
    settings: settings as DbSettings,
    actions: crud as ServiceSchema["actions"],
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
      async entityChanged(
        this: Internal,
        type: string,
        json: unknown,
        ctx?: Context,
        raw?: unknown,
      ): Promise<void> {
        await this.clearCache(ctx);
        const hook = this.schema[`entity${capitalize(type)}`];
        if (typeof hook === "function") await hook.call(this, json, ctx, raw);
      },
    },
  };
  return mixin;
}
