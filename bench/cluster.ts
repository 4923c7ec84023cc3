import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * The processes of a benchmark run: every node is its own Node process (Node itself with
 * tsx's loader, so its pid is the node's pid and a kill reaches it), on loopback, with
 * the environment it is given and nothing else from the caller's shell. Every process
 * spawned here is remembered and killed by `stopAll()` — also when the run fails.
 */

export const ROOT = path.resolve(__dirname, "..");

export interface BenchNode {
  name: string;
  /** Which service(s) the node runs, for the RSS table (e.g. "progress", "baseline-echo"). */
  role: string;
  child: ChildProcess;
  pid: number;
  metricsPort?: number;
  output(): string;
  /** Dashboard parts this node (the gateway) gave up as degraded, by part, from its warnings. */
  degraded: Map<string, number>;
  exited: Promise<number | null>;
}

const nodes: BenchNode[] = [];

/** V8 flags of every node, as `npm start` runs them (BENCH_NODE_FLAGS overrides for a trial). */
export const NODE_FLAGS = "--max-old-space-size=128 --max-semi-space-size=2";

/** A port nothing listens on right now (the kernel's choice), on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export function spawnNode(
  name: string,
  role: string,
  script: string,
  env: Record<string, string>,
  metricsPort?: number,
): BenchNode {
  // BENCH_CPU_PROF=<node name,...>: a V8 CPU profile of those nodes, written on exit.
  const profiled = (process.env.BENCH_CPU_PROF ?? "").split(",").includes(name);
  const profile = profiled
    ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR ?? "/tmp/lingomesh-prof"}`]
    : [];
  const flags = (process.env.BENCH_NODE_FLAGS ?? NODE_FLAGS).split(" ").filter(Boolean);
  // BENCH_LOADER=cjs: tsx's CommonJS hook in the main thread instead of its ESM loader.
  const loader =
    process.env.BENCH_LOADER === "cjs" ? ["--require", "tsx/cjs"] : ["--import", "tsx"];
  const child = spawn(process.execPath, [...flags, ...profile, ...loader, script], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      // As the Dockerfile sets them: one libuv thread per core (password hashes run there);
      UV_THREADPOOL_SIZE: String(Math.max(2, os.availableParallelism())),
      // glibc: few arenas, and large blocks (Argon2's 19 MiB) mapped and unmapped, not kept.
      MALLOC_ARENA_MAX: "2",
      MALLOC_MMAP_THRESHOLD_: "131072",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const degraded = new Map<string, number>();
  // Keep the tail only: a node logging warnings under load must not grow this process.
  const keep = (chunk: Buffer) => {
    const text = String(chunk);
    output = (output + text).slice(-20_000);
    for (const match of text.matchAll(/dashboard part \\?"(\w+)\\?" degraded/g))
      degraded.set(match[1], (degraded.get(match[1]) ?? 0) + 1);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<number | null>(resolve => child.once("exit", code => resolve(code)));
  const node: BenchNode = {
    name,
    role,
    child,
    pid: child.pid ?? -1,
    metricsPort,
    output: () => output,
    degraded,
    exited,
  };
  nodes.push(node);
  return node;
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Waits for `url` to answer 200 (a node's /health/ready), failing early if the node exits. */
export async function waitReady(node: BenchNode, url: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void node.exited.then(code => (exitCode = code));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) {
      throw new Error(
        `${node.name} exited with ${exitCode} before it was ready:\n${node.output()}`,
      );
    }
    if ((await httpStatus(url)) === 200) return;
    await sleep(250);
  }
  throw new Error(`${node.name} not ready at ${url} within ${timeoutMs} ms:\n${node.output()}`);
}

/** Waits for a line containing `marker` on the node's output (the baseline nodes print READY). */
export async function waitOutput(node: BenchNode, marker: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void node.exited.then(code => (exitCode = code));
  while (Date.now() < deadline) {
    if (node.output().includes(marker)) return;
    if (exitCode !== undefined) {
      throw new Error(`${node.name} exited with ${exitCode}:\n${node.output()}`);
    }
    await sleep(100);
  }
  throw new Error(`${node.name} did not print ${marker} within ${timeoutMs} ms:\n${node.output()}`);
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopNode(node: BenchNode, graceMs = 5000): Promise<void> {
  if (node.child.exitCode !== null || node.child.signalCode !== null) return;
  node.child.kill("SIGTERM");
  const killed = await Promise.race([
    node.exited.then(() => true),
    sleep(graceMs).then(() => false),
  ]);
  if (!killed) {
    node.child.kill("SIGKILL");
    await Promise.race([node.exited, sleep(2000)]);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all(nodes.map(node => stopNode(node)));
}

/** Last resort on an abrupt exit of the runner: no node may outlive it. */
export function killAllNow(): void {
  for (const node of nodes) {
    if (node.child.exitCode === null && node.child.signalCode === null) {
      try {
        node.child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}

export function liveNodes(): BenchNode[] {
  return nodes.filter(node => node.child.exitCode === null && node.child.signalCode === null);
}

/** A process's resident set now, in MiB. */
export function rssNow(pid: number): number | undefined {
  return statusField(pid, "VmRSS");
}

function statusField(pid: number, field: string): number | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/status`, "utf8");
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples every live node's resident set (VmRSS) twice a second and keeps each one's
 * peak; `hwm()` adds the kernel's own high-water mark (VmHWM), which also covers start-up.
 */
export class RssSampler {
  private timer?: NodeJS.Timeout;
  readonly peaks = new Map<string, number>();
  readonly highWater = new Map<string, number>();

  start(): void {
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  sample(): void {
    for (const node of liveNodes()) {
      const rss = statusField(node.pid, "VmRSS");
      if (rss !== undefined)
        this.peaks.set(node.name, Math.max(this.peaks.get(node.name) ?? 0, rss));
      const hwm = statusField(node.pid, "VmHWM");
      if (hwm !== undefined) {
        this.highWater.set(node.name, Math.max(this.highWater.get(node.name) ?? 0, hwm));
      }
    }
  }

  stop(): void {
    this.sample();
    clearInterval(this.timer);
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100;
  } catch {
    return undefined;
  }
}
