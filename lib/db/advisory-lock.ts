import type { Sequelize } from "sequelize";

/**
 * Mutual exclusion across every node that shares a database: a PostgreSQL session-level
 * advisory lock, keyed by a name, held on one dedicated pooled connection while `fn` runs.
 * If the process dies the connection closes and PostgreSQL releases the lock itself.
 *
 * Embedded PGlite has a single session shared by all connections, where advisory locks
 * never block; there one process owns the database, so `inProcess: true` adds a queue in
 * this process that gives the same exclusion (several services or brokers of the node).
 */

/** First key of the two-int advisory lock space: marks locks taken by this application. */
const LOCK_SPACE = 0x4c4d; // "LM"

const local = new Map<string, Promise<unknown>>();

async function inProcess<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const previous = local.get(key) ?? Promise.resolve();
  const run = previous.then(fn, fn);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  local.set(key, settled);
  try {
    return await run;
  } finally {
    if (local.get(key) === settled) local.delete(key);
  }
}

export interface AdvisoryLockOptions {
  /** Give up waiting for another holder after this long (a migration should not take longer). */
  timeoutMs?: number;
  /** Called once when the lock is busy, so the log says why the node waits. */
  onWait?: () => void;
  /** Also exclude other holders in this process (needed on the embedded store, see above). */
  inProcess?: boolean;
}

class LockTimeoutError extends Error {
  constructor(key: string, timeoutMs: number) {
    super(
      `advisory lock "${key}" still held by another node after ${Math.round(timeoutMs / 1000)} s`,
    );
    this.name = "LockTimeoutError";
  }
}

interface PgConnection {
  query(sql: string, values?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** Sequelize types its pooled connection as an opaque object; on Postgres it is a pg Client. */
function isPgConnection(connection: object): connection is PgConnection {
  return typeof (connection as { query?: unknown }).query === "function";
}

/** Runs `fn` while holding the advisory lock `key` on this database. */
export async function withAdvisoryLock<T>(
  sequelize: Sequelize,
  key: string,
  fn: () => Promise<T>,
  { timeoutMs = 5 * 60_000, onWait, inProcess: local = false }: AdvisoryLockOptions = {},
): Promise<T> {
  const hold = () => holdAdvisoryLock(sequelize, key, fn, timeoutMs, onWait);
  return local ? inProcess(`${sequelize.config.database}#${key}`, hold) : hold();
}

async function holdAdvisoryLock<T>(
  sequelize: Sequelize,
  key: string,
  fn: () => Promise<T>,
  timeoutMs: number,
  onWait: (() => void) | undefined,
): Promise<T> {
  const manager = sequelize.connectionManager;
  const connection = await manager.getConnection({ type: "write" });
  if (!isPgConnection(connection)) {
    manager.releaseConnection(connection);
    throw new Error("advisory locks need a PostgreSQL connection");
  }
  let locked = false;
  let healthy = true;
  try {
    const deadline = Date.now() + timeoutMs;
    let delay = 50;
    let warned = false;
    // try-lock in a loop rather than pg_advisory_lock: a wait that can time out and be logged.
    for (;;) {
      const { rows } = await connection.query(
        "SELECT pg_try_advisory_lock($1::int, hashtext($2)) AS locked",
        [LOCK_SPACE, key],
      );
      if (rows[0]?.locked === true) {
        locked = true;
        break;
      }
      if (Date.now() >= deadline) throw new LockTimeoutError(key, timeoutMs);
      if (!warned) {
        warned = true;
        onWait?.();
      }
      await new Promise(resolve => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 1_000);
    }
    return await fn();
  } finally {
    if (locked) {
      try {
        await connection.query("SELECT pg_advisory_unlock($1::int, hashtext($2))", [
          LOCK_SPACE,
          key,
        ]);
      } catch {
        // A connection that cannot unlock must not go back to the pool still holding the lock.
        healthy = false;
      }
    }
    if (healthy) manager.releaseConnection(connection);
    else await manager.destroyConnection(connection);
  }
}
