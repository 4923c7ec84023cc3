import { Sequelize, type Options, type PoolOptions } from "sequelize";

/** Where a service's Sequelize connects: a real server by URL, or the node's embedded PGlite. */
export type DbTarget =
  | { kind: "url"; url: string }
  | { kind: "embedded"; endpoint: () => Promise<{ host: string; port: number }> };

/**
 * Pool per service and node. Real PostgreSQL: at most 5 connections — a node runs up to
 * four database services and operators add nodes, so 5 keeps `nodes × services × 5` under
 * PostgreSQL's default max_connections of 100 for a small cluster, while queries are
 * short enough that 5 serve far more than 5 concurrent calls. Idle connections close after
 * 10 s so a quiet node gives them back. Waiting for a free connection gives up after 8 s,
 * below the 10 s request timeout, so the caller sees a database error rather than a
 * generic timeout.
 *
 * Embedded (PGlite): at most 3. The socket server runs one query at a time and holds the
 * whole database for a connection inside a transaction, so more connections only queue
 * inside the server; 3 allow one transaction, a migration lock and a health probe side by
 * side. Acquire waits longer (15 s) because a queued query waits for the transaction ahead.
 */
const POOL: Record<DbTarget["kind"], PoolOptions> = {
  url: { max: 5, min: 0, idle: 10_000, acquire: 8_000, evict: 1_000 },
  embedded: { max: 3, min: 0, idle: 10_000, acquire: 15_000, evict: 1_000 },
};

/** The URL with its password replaced: the only form of a connection string that may be logged. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<unparsable database URL>";
  }
}

/** Replaces any credentials inside a `scheme://user:pass@` fragment of a message. */
export function redactMessage(message: string): string {
  return message.replace(/(\/\/[^:@\s/]*):[^@\s]*@/g, "$1:***@");
}

export interface SequelizeSettings {
  target: DbTarget;
  /** Shown in pg_stat_activity: which node and service holds a connection. */
  applicationName: string;
  pool?: PoolOptions;
  logging?: (sql: string) => void;
}

/** A Sequelize instance for one service. It connects lazily: nothing happens until the first query. */
export function createSequelize({
  target,
  applicationName,
  pool,
  logging,
}: SequelizeSettings): Sequelize {
  const common: Options = {
    dialect: "postgres",
    logging: logging ?? false,
    pool: { ...POOL[target.kind], ...pool },
    // Timestamps as UTC regardless of the node's zone.
    timezone: "+00:00",
    define: { freezeTableName: true },
  };
  if (target.kind === "url") {
    return new Sequelize(target.url, {
      ...common,
      dialectOptions: {
        application_name: applicationName.slice(0, 63),
        // A dead or firewalled host fails in 5 s instead of the OS's minutes.
        connectionTimeoutMillis: 5_000,
        keepAlive: true,
        // A transaction left open by a bug cannot hold row locks for ever.
        idle_in_transaction_session_timeout: 60_000,
      },
    });
  }
  const endpoint = target.endpoint;
  return new Sequelize({
    ...common,
    host: "127.0.0.1",
    port: 0,
    database: "postgres",
    username: "postgres",
    dialectOptions: { connectionTimeoutMillis: 5_000 },
    hooks: {
      // The embedded server picks a free port when it starts; each new connection asks for it.
      async beforeConnect(config: { host?: string; port?: string }) {
        const { host, port } = await endpoint();
        config.host = host;
        config.port = String(port);
      },
    },
  });
}

class DatabaseUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "DatabaseUnavailableError";
  }
}

/**
 * Waits until the database answers, trying again every second up to `timeoutMs`: in a
 * compose or Kubernetes start the database often comes up a little after the nodes.
 * Then it gives up with one line naming DATABASE_URL (password hidden) and the cause.
 */
export async function waitForDatabase(
  sequelize: Sequelize,
  opts: { describe: string; timeoutMs: number; onRetry?: (message: string) => void },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let attempt = 0;
  for (;;) {
    attempt += 1;
    try {
      await sequelize.authenticate({ logging: false });
      return;
    } catch (err) {
      const cause = redactMessage(rootMessage(err));
      if (Date.now() + 1_000 >= deadline) {
        throw new DatabaseUnavailableError(
          `${opts.describe} is unreachable after ${attempt} attempt(s) in ${Math.round(opts.timeoutMs / 1000)} s: ${cause}`,
          { cause: err },
        );
      }
      opts.onRetry?.(`${opts.describe} is not reachable yet (${cause}); retrying`);
      await new Promise(resolve => setTimeout(resolve, 1_000));
    }
  }
}

/** Sequelize wraps driver errors; the innermost message says what really happened. */
export function rootMessage(err: unknown): string {
  type Wrapped = {
    message?: string;
    code?: string;
    original?: unknown;
    parent?: unknown;
    errors?: unknown[];
  };
  let current = err as Wrapped | undefined;
  let message = current?.message ?? String(err);
  let code = current?.code;
  while (current && (current.original || current.parent)) {
    current = (current.original ?? current.parent) as Wrapped;
    if (current?.message) message = current.message;
    code = current?.code ?? code;
  }
  // A host name with several addresses (localhost: ::1 and 127.0.0.1) fails with an
  // AggregateError whose own message is empty; its parts say what happened.
  if (!message && Array.isArray(current?.errors)) {
    message = current.errors.map(e => (e as Error).message).join("; ");
  }
  return message || code || "unknown error";
}
