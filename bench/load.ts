import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import autocannon from "autocannon";

/**
 * The load generator: autocannon's programmatic API in a process of its own (forked by
 * `LoadWorker`), so the client's CPU is not the runner's and its event loop is not shared
 * with anything it measures. One job at a time; each result comes back over IPC.
 */

export interface LoadSpec {
  url: string;
  method?: "GET" | "POST";
  connections: number;
  durationSec: number;
  headers?: Record<string, string>;
  /** Request i uses headers[i % n] (e.g. a different learner's token each time). */
  rotateHeaders?: Array<Record<string, string>>;
  /** Request i uses bodies[i % n]. */
  rotateBodies?: string[];
  body?: string;
}

export interface LoadResult {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  requests: number;
  errors: number;
  non2xx: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

function runHere(spec: LoadSpec): Promise<LoadResult> {
  let i = 0;
  const rotating = (spec.rotateHeaders?.length ?? 0) > 0 || (spec.rotateBodies?.length ?? 0) > 0;
  const request: autocannon.Request = {
    method: spec.method ?? "GET",
    headers: spec.headers,
    body: spec.body,
  };
  if (rotating) {
    request.setupRequest = (req: autocannon.Request) => {
      const n = i++;
      const headers = spec.rotateHeaders?.length
        ? { ...spec.headers, ...spec.rotateHeaders[n % spec.rotateHeaders.length] }
        : spec.headers;
      const body = spec.rotateBodies?.length
        ? spec.rotateBodies[n % spec.rotateBodies.length]
        : spec.body;
      return { ...req, headers, body };
    };
  }
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationSec,
        timeout: 10,
        requests: [request],
      },
      (err, result) => {
        if (err) return reject(err);
        const codes: Record<string, number> = {};
        for (const key of Object.keys(result)) {
          const match = /^(\d)xx$/.exec(key);
          if (match) codes[key] = (result as unknown as Record<string, number>)[key];
        }
        const statusCodes = { ...codes, ...(result.statusCodeStats ?? {}) } as unknown as Record<
          string,
          number
        >;
        const flat: Record<string, number> = {};
        for (const [code, value] of Object.entries(statusCodes)) {
          flat[code] = typeof value === "number" ? value : (value as { count: number }).count;
        }
        resolve({
          // Completed answers over the measured time: what the system actually served.
          rps: result.requests.total / result.duration,
          p50: result.latency.p50,
          p90: result.latency.p90,
          p99: result.latency.p99,
          max: result.latency.max,
          mean: result.latency.average,
          requests: result.requests.total,
          errors: result.errors + result.non2xx,
          non2xx: result.non2xx,
          timeouts: result.timeouts,
          statusCodes: flat,
        });
      },
    );
  });
}

/**
 * One load process for the whole run, given one job at a time: the interleaved schedule
 * runs a hundred short slices, and a fresh process per slice (tsx and autocannon loaded
 * again each time) would cost more CPU than a slice of the slower scenarios measures.
 */
export class LoadWorker {
  private child?: ChildProcess;
  private next = 0;
  private readonly pending = new Map<
    number,
    { resolve: (r: LoadResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }
  >();

  start(): void {
    const child = fork(path.join(__dirname, "load.ts"), [], {
      execArgv: ["--import", "tsx"],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    child.on("message", (message: { id: number; result?: LoadResult; error?: string }) => {
      const job = this.pending.get(message.id);
      if (!job) return;
      this.pending.delete(message.id);
      clearTimeout(job.timer);
      if (message.error !== undefined) job.reject(new Error(message.error));
      else job.resolve(message.result as LoadResult);
    });
    child.once("exit", code => {
      for (const job of this.pending.values()) {
        clearTimeout(job.timer);
        job.reject(new Error(`load process exited with ${code} before answering`));
      }
      this.pending.clear();
      this.child = undefined;
    });
    this.child = child;
  }

  /** Runs `spec` in the load process; bounded by the job's duration plus slack. */
  run(spec: LoadSpec): Promise<LoadResult> {
    if (!this.child) this.start();
    const child = this.child as ChildProcess;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => {
          this.pending.delete(id);
          reject(new Error(`load job on ${spec.url} did not finish in time`));
          // Its connections may still be open: a fresh process for the next job.
          this.stop();
        },
        (spec.durationSec + 30) * 1000,
      );
      this.pending.set(id, { resolve, reject, timer });
      child.send({ id, spec });
    });
  }

  stop(): void {
    this.child?.kill("SIGKILL");
    this.child = undefined;
  }
}

if (require.main === module && process.send) {
  // The runner gone (even killed), its load process goes too.
  process.once("disconnect", () => process.exit(0));
  process.on("message", (message: { id: number; spec: LoadSpec }) => {
    runHere(message.spec).then(
      result => process.send?.({ id: message.id, result }),
      (err: Error) => process.send?.({ id: message.id, error: err.message }),
    );
  });
}
