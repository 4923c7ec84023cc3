import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { startNodeProcess } from "../../test/support/node-process";

/** A producer node (bench/chaos/relay-node.ts) in a process of its own, with its RSS sampled. */
const RELAY_NODE = path.join(__dirname, "relay-node.ts");

export interface RelayProcess {
  child: ChildProcess;
  peakRssMb: number;
  rssMb: number;
  /** Ids of the events this process committed (as it reported them). */
  committed: string[];
  stop(): void;
}

export function startRelay(env: Record<string, string>): Promise<RelayProcess> {
  const proc = startNodeProcess(RELAY_NODE, { env, keepChars: 2_000 });
  const child = proc.child;
  // Whatever ends the harness, the relay process does not outlive it.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));
  const relay: RelayProcess = {
    child,
    peakRssMb: 0,
    rssMb: 0,
    committed: [],
    stop: () => clearInterval(sampler),
  };
  // The child's RSS from /proc (Linux): the producer's own memory, not the harness's.
  const sampler = setInterval(() => {
    void Promise.resolve().then(() => {
      try {
        const status = fs.readFileSync(`/proc/${child.pid}/status`, "utf8");
        const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
        relay.rssMb = Math.round(kb / 102.4) / 10;
        relay.peakRssMb = Math.max(relay.peakRssMb, relay.rssMb);
      } catch {
        // the process is gone
      }
    });
  }, 200);
  return new Promise((resolve, reject) => {
    let pending = "";
    child.stdout?.on("data", chunk => {
      pending += String(chunk);
      const lines = pending.split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") resolve(relay);
        if (line.startsWith("committed ")) relay.committed.push(...line.slice(10).split(","));
      }
    });
    child.once("exit", code => {
      clearInterval(sampler);
      reject(new Error(`relay node exited (${code}): ${proc.output().slice(-500)}`));
    });
  });
}
