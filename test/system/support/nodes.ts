import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT, startNodeProcess, type NodeProcess } from "../../support/node-process";

const SERVER = path.join(ROOT, "server.ts");

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 15_000,
  intervalMs = 100,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > until) {
      const reason = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
    }
    await new Promise(resolve => setTimeout(resolve, intervalMs));
  }
}

const LOCK = path.join(os.tmpdir(), "lingomesh-system-startup.lock");

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs `fn` while no other system suite (another jest worker) is starting processes: node
 * starts are CPU-bound, and timing a start (the 20 s readiness bar) only means something when
 * two suites' starts do not share the two cores. A lock left by a dead worker is taken over.
 */
export async function startupLock<T>(fn: () => Promise<T>): Promise<T> {
  await waitFor(
    "the system-test startup lock",
    () => {
      try {
        fs.mkdirSync(LOCK);
        fs.writeFileSync(path.join(LOCK, "pid"), String(process.pid));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        let holder = NaN;
        try {
          holder = Number(fs.readFileSync(path.join(LOCK, "pid"), "utf8"));
        } catch {
          // Just created, pid not written yet: wait.
        }
        if (Number.isInteger(holder) && holder > 0 && !alive(holder)) {
          fs.rmSync(LOCK, { recursive: true, force: true });
        }
        return undefined;
      }
    },
    240_000,
    100,
  );
  try {
    return await fn();
  } finally {
    fs.rmSync(LOCK, { recursive: true, force: true });
  }
}

async function ready(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

export interface ServerProcess extends NodeProcess {
  name: string;
  /** Health listener of this node (METRICS_PORT). */
  metricsUrl: string;
  /** Gateway origin when the node runs the api service. */
  origin?: string;
}

/**
 * Runs `server.ts` as its own process — exactly `npm start` — and resolves once the node's
 * /health/ready answers 200 (and the gateway's too, when PORT is given). `opts.compiled`: the
 * build's `server.js` in that directory on plain Node instead, as the Dockerfile runs it.
 */
export async function startServer(
  name: string,
  env: Record<string, string>,
  timeoutMs = 45_000,
  opts: { lock?: boolean; compiled?: string } = {},
): Promise<ServerProcess> {
  if (opts.lock !== false) {
    return startupLock(() => startServer(name, env, timeoutMs, { ...opts, lock: false }));
  }
  const node = opts.compiled
    ? startNodeProcess(path.join(opts.compiled, "server.js"), {
        env,
        loader: "none",
        nodeFlags: ["--enable-source-maps"],
      })
    : startNodeProcess(SERVER, { env });
  const metricsUrl = `http://127.0.0.1:${env.METRICS_PORT}`;
  const origin = env.PORT ? `http://127.0.0.1:${env.PORT}` : undefined;
  try {
    await waitFor(
      `${name} to be ready`,
      async () => {
        if (node.exitInfo !== undefined) throw new Error(`${name} exited with ${node.exitInfo}`);
        const urls = [`${metricsUrl}/health/ready`, ...(origin ? [`${origin}/health/ready`] : [])];
        const answers = await Promise.all(urls.map(ready));
        return answers.every(Boolean) ? true : undefined;
      },
      timeoutMs,
      150,
    );
  } catch (err) {
    await node.kill();
    throw new Error(
      `${(err as Error).message}\n--- output of ${name} ---\n${node.output().slice(-4000)}`,
    );
  }
  return Object.assign(node, { name, metricsUrl, origin });
}

/** Kills whatever is still running (afterAll), never waiting on a node that hangs. */
export async function killAll(processes: Array<ServerProcess | undefined>): Promise<void> {
  await Promise.all(processes.map(p => p?.kill()));
}
