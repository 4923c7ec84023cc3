import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import ts from "typescript";
import { build } from "../scripts/build";
import { ROOT, startNodeProcess, type NodeProcess } from "../test/support/node-process";

/**
 * The processes of a benchmark run: every node is its own Node process (Node itself, no
 * wrapper, so its pid is the node's pid and a kill reaches it), on loopback, with the
 * environment it is given and nothing else from the caller's shell. Every process spawned
 * here is remembered and killed by `stopAll()` — also when the run fails.
 */

export interface BenchNode extends NodeProcess {
  name: string;
  /** Which service(s) the node runs, for the RSS table (e.g. "progress", "baseline-echo"). */
  role: string;
  metricsPort?: number;
  /** Dashboard parts this node (the gateway) gave up as degraded, by part, from its warnings. */
  degraded: Map<string, number>;
  /** Its resident set right after it was ready, before any load (MiB; see `noteAtRest`). */
  atRestMiB?: number;
}

const nodes: BenchNode[] = [];

/** The baseline's node (bench/baseline-node.ts): a bare gateway or echo service. */
export const BASELINE_NODE = "bench/baseline-node.ts";

/**
 * How the nodes run (BENCH_RUNTIME): `compiled` (the default) — the JavaScript `npm run build`
 * makes, on plain Node, as the Dockerfile runs them; `tsx` — the sources through tsx's
 * loader, as `npm start` does (to compare the two).
 */
export const RUNTIME: "compiled" | "tsx" = process.env.BENCH_RUNTIME === "tsx" ? "tsx" : "compiled";

let buildDir: string | undefined;

/**
 * With the compiled runtime, builds the nodes once (into a temporary directory) before any
 * starts, and the baseline's node beside them — tsc's emit of that one file, so that both
 * sides of every ratio run the same way.
 */
export function prepareNodes(): void {
  if (RUNTIME !== "compiled" || buildDir) return;
  buildDir = build(fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-bench-build-")));
  const source = fs.readFileSync(path.join(ROOT, BASELINE_NODE), "utf8");
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2023,
      esModuleInterop: true,
    },
  });
  fs.mkdirSync(path.join(buildDir, path.dirname(BASELINE_NODE)), { recursive: true });
  fs.writeFileSync(path.join(buildDir, BASELINE_NODE.replace(/\.ts$/, ".js")), outputText);
}

export function removeBuild(): void {
  if (buildDir) fs.rmSync(buildDir, { recursive: true, force: true });
  buildDir = undefined;
}

/** What a node runs: the source through tsx, or its compiled file in the build on plain Node. */
function entryOf(script: string): { file: string; loader: "tsx" | "none" } {
  if (RUNTIME === "tsx") return { file: script, loader: "tsx" };
  if (!buildDir) throw new Error("prepareNodes() must build the nodes before the first starts");
  return { file: path.join(buildDir, script.replace(/\.ts$/, ".js")), loader: "none" };
}

/** V8 flags of every node, as the Dockerfile runs them (BENCH_NODE_FLAGS overrides for a trial). */
export const NODE_FLAGS = "--max-old-space-size=128 --max-semi-space-size=2";

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
  const degraded = new Map<string, number>();
  const entry = entryOf(script);
  // As the Dockerfile runs them: stack traces name the TypeScript files (tsx does this itself).
  const sourceMaps = entry.loader === "none" ? ["--enable-source-maps"] : [];
  const proc = startNodeProcess(entry.file, {
    nodeFlags: [...flags, ...sourceMaps, ...profile],
    loader: entry.loader,
    env: {
      // As the Dockerfile sets them: one libuv thread per core (password hashes run there);
      UV_THREADPOOL_SIZE: String(Math.max(2, os.availableParallelism())),
      // glibc: few arenas, and Node's large blocks unmapped when freed (Argon2's are the
      // addon's own mimalloc's, mapped and unmapped per hash whatever these say).
      MALLOC_ARENA_MAX: "2",
      MALLOC_MMAP_THRESHOLD_: "131072",
      ...env,
    },
    // The tail only: a node logging warnings under load must not grow this process.
    keepChars: 20_000,
    onOutput: text => {
      for (const match of text.matchAll(/dashboard part \\?"(\w+)\\?" degraded/g))
        degraded.set(match[1], (degraded.get(match[1]) ?? 0) + 1);
    },
  });
  const node = Object.assign(proc, { name, role, metricsPort, degraded });
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
  while (Date.now() < deadline) {
    if (node.exitInfo !== undefined) {
      throw new Error(
        `${node.name} exited with ${node.exitInfo} before it was ready:\n${node.output()}`,
      );
    }
    if ((await httpStatus(url)) === 200) return;
    await sleep(250);
  }
  throw new Error(`${node.name} not ready at ${url} within ${timeoutMs} ms:\n${node.output()}`);
}

export async function stopAll(): Promise<void> {
  await Promise.all(nodes.map(node => node.stop(5000)));
}

/** Last resort on an abrupt exit of the runner: no node may outlive it. */
export function killAllNow(): void {
  for (const node of nodes) {
    if (node.exitInfo === undefined) node.child.kill("SIGKILL");
  }
}

export function liveNodes(): BenchNode[] {
  return nodes.filter(node => node.exitInfo === undefined);
}

/** Every node the run started, stopped ones included (the RSS table). */
export function allNodes(): readonly BenchNode[] {
  return nodes;
}

/** Records a node's resident set as it is now: call it once the node is ready, before any load. */
export function noteAtRest(node: BenchNode): void {
  const rss = rssNow(node.pid);
  if (rss !== undefined) node.atRestMiB = Number(rss.toFixed(1));
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
