import { spawn, type ChildProcess } from "node:child_process";
import type { Writable } from "node:stream";
import net from "node:net";
import os from "node:os";
import path from "node:path";

/**
 * The one way tests, the benchmark and the drills run a node or a script as a process of its
 * own: Node itself with tsx's loader (not the tsx CLI, whose wrapper process would take a
 * SIGKILL and leave the node running) — or with no loader, for the compiled build — in the
 * repository root, with nothing of the caller's environment but PATH and HOME.
 */

export const ROOT = path.resolve(__dirname, "../..");

export interface NodeProcessOptions {
  env: Record<string, string>;
  /** Node flags before the loader (V8 heap sizes, --cpu-prof). */
  nodeFlags?: string[];
  /**
   * `tsx` (the default): the TypeScript sources through tsx's loader; `none`: plain Node, for
   * the compiled JavaScript of `npm run build`.
   */
  loader?: "tsx" | "none";
  /** Characters of output kept (the tail): a long-running node must not grow its parent. */
  keepChars?: number;
  /** Also written here as it comes (a node's log file). */
  log?: Writable;
  /** Sees every chunk of output (e.g. to count warnings of a kind). */
  onOutput?: (text: string) => void;
}

export interface NodeProcess {
  child: ChildProcess;
  pid: number;
  /** The tail of stdout and stderr together. */
  output(): string;
  /** Resolves once the process is gone, with its signal or exit code ("SIGKILL", "0"). */
  exited: Promise<string>;
  /** The exit's signal or code once gone; undefined while it runs. */
  readonly exitInfo: string | undefined;
  /** SIGKILL (a crash: no goodbye to the cluster); resolves once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit once it is gone. */
  stop(graceMs?: number): Promise<string>;
}

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms));

export function startNodeProcess(script: string, opts: NodeProcessOptions): NodeProcess {
  const loader = opts.loader === "none" ? [] : ["--import", "tsx"];
  const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...loader, script], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir(), ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keepChars = opts.keepChars ?? 100_000;
  let output = "";
  const keep = (chunk: Buffer) => {
    const text = String(chunk);
    output = (output + text).slice(-keepChars);
    opts.onOutput?.(text);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  if (opts.log) {
    child.stdout?.pipe(opts.log, { end: false });
    child.stderr?.pipe(opts.log, { end: false });
  }
  let exitInfo: string | undefined;
  const exited = new Promise<string>(resolve =>
    child.once("exit", (code, signal) => {
      exitInfo = signal ?? String(code);
      resolve(exitInfo);
    }),
  );
  const proc: NodeProcess = {
    child,
    pid: child.pid ?? -1,
    output: () => output,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    async kill() {
      if (exitInfo === undefined) child.kill("SIGKILL");
      await exited;
    },
    async stop(graceMs = 30_000) {
      if (exitInfo === undefined) {
        child.kill("SIGTERM");
        const gone = await Promise.race([
          exited.then(() => true),
          sleep(graceMs).then(() => false),
        ]);
        if (!gone) await proc.kill();
      }
      return exited;
    },
  };
  return proc;
}

/** Resolves once the process has printed `marker`; fails if it exits first or `timeoutMs` passes. */
export async function waitForOutput(
  proc: NodeProcess,
  marker: string,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.output().includes(marker)) {
    if (proc.exitInfo !== undefined)
      throw new Error(
        `${what} exited (${proc.exitInfo}) before it printed ${marker}:\n${proc.output()}`,
      );
    if (Date.now() > deadline)
      throw new Error(`${what} did not print ${marker} within ${timeoutMs} ms:\n${proc.output()}`);
    await sleep(50);
  }
}

/** Runs a one-off script (e.g. `scripts/seed.ts`) to its end: its exit code and output. */
export async function runScript(
  script: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ code: number | null; output: string }> {
  const proc = startNodeProcess(path.resolve(ROOT, script), { env });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void proc.kill();
  }, timeoutMs);
  await proc.exited;
  clearTimeout(timer);
  if (timedOut) throw new Error(`${script} did not finish in ${timeoutMs} ms:\n${proc.output()}`);
  return { code: proc.child.exitCode, output: proc.output() };
}

/** A TCP port nothing listens on right now (the kernel's choice), on loopback. */
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
