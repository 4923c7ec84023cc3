import net from "node:net";
import { parentPort, workerData } from "node:worker_threads";
import { PGlite } from "@electric-sql/pglite";
import { PGLiteSocketHandler, type PGLiteSocketHandlerOptions } from "@electric-sql/pglite-socket";

/**
 * Runs the embedded PostgreSQL (PGlite) on its own thread: its WASM work never blocks
 * the broker's event loop (heartbeats, other calls), and it loads outside any module
 * sandbox of the host (Jest's VM cannot run PGlite's dynamic imports).
 * Plain erasable TypeScript in an .mts file, so Node runs it as is under tsx, Node or Jest.
 *
 * The connections are pglite-socket's handlers, but with our own queue (SessionQueue):
 * pglite-socket's queue keeps one connection's messages together only inside an explicit
 * transaction, so with several connections the Parse/Bind/Execute/Sync messages of two
 * extended-protocol queries interleave in PGlite's single session ("unnamed prepared
 * statement does not exist", wrong results) — seen when four services migrate at once.
 *
 * Messages: in ← "stop"; out → { type: "ready", host, port } | { type: "error", message } | { type: "stopped" }.
 */

interface Options {
  dir: string;
  maxConnections: number;
}

type Queue = PGLiteSocketHandlerOptions["queryQueue"];

interface Job {
  handlerId: number;
  message: Uint8Array;
  onData: (data: Uint8Array) => void;
  resolve: (bytes: number) => void;
  reject: (err: Error) => void;
}

/** Message types after which the session is free again (if no transaction is open). */
const SYNC = 0x53; // 'S'
const QUERY = 0x51; // 'Q'
const TERMINATE = 0x58; // 'X'
/** A bare Sync, sent when a connection dies mid-sequence so the session leaves its error state. */
const SYNC_MESSAGE = new Uint8Array([SYNC, 0, 0, 0, 4]);

/**
 * One PostgreSQL session shared by every connection: a connection keeps the session from
 * its first message until its Sync or simple Query ends the exchange, and for as long
 * as it holds a transaction open. The others' messages wait their turn.
 */
class SessionQueue {
  private jobs: Job[] = [];
  private running = false;
  /** The connection the session belongs to now (mid-exchange or in a transaction). */
  private owner: number | null = null;

  private readonly db: PGlite;

  // No parameter properties: Node's type stripping runs this file and does not support them.
  constructor(db: PGlite) {
    this.db = db;
  }

  enqueue(
    handlerId: number,
    message: Uint8Array,
    onData: (data: Uint8Array) => void,
  ): Promise<number> {
    return new Promise((resolve, reject) => {
      this.jobs.push({ handlerId, message, onData, resolve, reject });
      void this.run();
    });
  }

  getQueueLength(): number {
    return this.jobs.length;
  }

  clearQueueForHandler(handlerId: number): void {
    this.jobs = this.jobs.filter(job => {
      if (job.handlerId !== handlerId) return true;
      job.reject(new Error("Handler disconnected"));
      return false;
    });
  }

  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    if (this.owner !== handlerId) return;
    // The connection is gone while it held the session: end what it left open.
    await this.db.runExclusive(async () => {
      await this.db.execProtocolRawStream(SYNC_MESSAGE, { onRawData: () => undefined });
      if (this.db.isInTransaction()) await this.db.exec("ROLLBACK");
    });
    this.owner = null;
    void this.run();
  }

  private next(): Job | undefined {
    if (this.owner === null) return this.jobs.shift();
    const index = this.jobs.findIndex(job => job.handlerId === this.owner);
    return index === -1 ? undefined : this.jobs.splice(index, 1)[0];
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (let job = this.next(); job; job = this.next()) {
        let bytes = 0;
        try {
          await this.db.runExclusive(() =>
            this.db.execProtocolRawStream(job!.message, {
              onRawData: data => {
                bytes += data.length;
                job!.onData(data);
              },
            }),
          );
        } catch (err) {
          job.reject(err as Error);
          continue;
        }
        const type = job.message[0];
        const exchangeOver = type === SYNC || type === QUERY || type === TERMINATE || type === 0;
        this.owner = exchangeOver && !this.db.isInTransaction() ? null : job.handlerId;
        job.resolve(bytes);
      }
    } finally {
      this.running = false;
    }
  }
}

const { dir, maxConnections } = workerData as Options;
const port = parentPort;

async function main(): Promise<void> {
  const db = await PGlite.create(dir);
  const queue = new SessionQueue(db);
  const handlers = new Set<PGLiteSocketHandler>();
  const server = net.createServer(socket => {
    if (handlers.size >= maxConnections) {
      socket.end();
      return;
    }
    const handler = new PGLiteSocketHandler({
      // Cast: pglite-socket types the option as its class QueryQueueManager, whose private
      // fields no other class can match; the handler calls only its public methods, which
      // SessionQueue has with the same signatures.
      queryQueue: queue as unknown as Queue,
      closeOnDetach: true,
    });
    handlers.add(handler);
    const forget = () => handlers.delete(handler);
    handler.addEventListener("close", forget);
    handler.addEventListener("error", forget);
    handler.attach(socket).catch(() => {
      forget();
      socket.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  port?.on("message", async (message: unknown) => {
    if (message !== "stop") return;
    try {
      await Promise.all([...handlers].map(handler => handler.detach(true)));
      await new Promise<void>(resolve => server.close(() => resolve()));
      if (!db.closed) await db.close();
      port.postMessage({ type: "stopped" });
    } catch (err) {
      port.postMessage({ type: "error", message: (err as Error).message });
    }
  });
  port?.postMessage({ type: "ready", host: address.address, port: address.port });
}

main().catch((err: unknown) => {
  port?.postMessage({ type: "error", message: (err as Error).message ?? String(err) });
});
