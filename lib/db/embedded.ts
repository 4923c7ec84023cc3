import fs from "node:fs";
import path from "node:path";
import { Worker } from "node:worker_threads";

/**
 * The embedded store used when DATABASE_URL is unset: PGlite (PostgreSQL compiled to
 * WASM) persisted under DATA_DIR/pglite and served on a loopback port, so Sequelize and
 * pg talk to it exactly as to a real server and all SQL is the same code in both modes.
 *
 * PGlite runs on a worker thread (pglite-worker.mts) so its WASM work does not block the
 * broker's event loop. One instance per process and data directory: every service of the node shares it
 * (PGlite is a single-session database; two instances on one directory would corrupt
 * it). Each user acquires a lease; the last release stops the server and closes PGlite.
 *
 * Caveats of PGlite behind the socket server (both follow from PGlite being ONE backend
 * session multiplexed over all connections):
 * - Transactions are serialized across connections: while one connection is inside a
 *   transaction, queries of every other connection wait until it commits or rolls back.
 *   So code holding a transaction must never await a query made outside it (deadlock),
 *   and pools are kept small in embedded mode.
 * - Session state is shared: SET, search_path, session advisory locks and temp tables are
 *   seen by every connection. Always schema-qualify names; advisory locks do not exclude
 *   each other here (the migrator adds an in-process lock for that reason).
 */

export interface EmbeddedPostgres {
  host: string;
  port: number;
  /** Where the data lives (DATA_DIR/pglite). */
  dir: string;
  /** Ends this lease; the last one stops the server and closes the database. */
  release(): Promise<void>;
}

interface Running {
  worker: Worker;
  host: string;
  port: number;
}

interface Instance {
  leases: number;
  ready: Promise<Running>;
}

/**
 * Connections the socket server accepts: the pools of every service of the node
 * (small in embedded mode, see connection.ts), their migration locks and a margin.
 */
const MAX_CONNECTIONS = 32;
/** PGlite initialises a fresh data directory in a few seconds; far longer means it is stuck. */
const START_TIMEOUT_MS = 60_000;

const instances = new Map<string, Instance>();
/** A directory whose last lease ended is closed before anyone may open it again. */
const closing = new Map<string, Promise<void>>();

type WorkerMessage =
  | { type: "ready"; host: string; port: number }
  | { type: "stopped" }
  | { type: "error"; message: string };

function open(dir: string): Promise<Running> {
  fs.mkdirSync(dir, { recursive: true });
  const worker = new Worker(path.join(__dirname, "pglite-worker.mts"), {
    workerData: { dir, maxConnections: MAX_CONNECTIONS },
  });
  return new Promise<Running>((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`no answer within ${START_TIMEOUT_MS / 1000} s`));
    }, START_TIMEOUT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      void worker.terminate();
      reject(err);
    };
    worker.once("error", fail);
    worker.once("exit", code => fail(new Error(`the database thread exited (code ${code})`)));
    worker.once("message", (message: WorkerMessage) => {
      if (message.type !== "ready") {
        fail(new Error(message.type === "error" ? message.message : "unexpected message"));
        return;
      }
      clearTimeout(timer);
      worker.removeAllListeners("error");
      worker.removeAllListeners("exit");
      resolve({ worker, host: message.host, port: message.port });
    });
  });
}

async function close(running: Running): Promise<void> {
  const { worker } = running;
  await new Promise<void>(resolve => {
    const timer = setTimeout(() => resolve(), 10_000);
    worker.once("message", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    worker.postMessage("stop");
  });
  await worker.terminate();
}

/** A lease on the embedded PostgreSQL of `dataDir`, started on first use. */
export async function acquireEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  const dir = path.resolve(dataDir, "pglite");
  await closing.get(dir);
  let instance = instances.get(dir);
  if (!instance) {
    const created: Instance = { leases: 0, ready: open(dir) };
    instances.set(dir, created);
    // A failed start must not poison the next attempt.
    created.ready.catch(() => {
      if (instances.get(dir) === created) instances.delete(dir);
    });
    instance = created;
  }
  instance.leases += 1;
  const current = instance;
  let running: Running;
  try {
    running = await current.ready;
  } catch (err) {
    current.leases -= 1;
    throw new Error(
      `the embedded database under ${dir} could not start: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  let released = false;
  return {
    host: running.host,
    port: running.port,
    dir,
    async release() {
      if (released) return;
      released = true;
      current.leases -= 1;
      if (current.leases > 0 || instances.get(dir) !== current) return;
      instances.delete(dir);
      const done = close(running).finally(() => closing.delete(dir));
      closing.set(dir, done);
      await done;
    },
  };
}

/** How many services of this process hold the embedded database of `dataDir`. */
export function embeddedLeases(dataDir: string): number {
  return instances.get(path.resolve(dataDir, "pglite"))?.leases ?? 0;
}
