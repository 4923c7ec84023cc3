import type { Reply } from "./http";
import { percentile, round, sleep } from "./util";

/** One request of a load run, timed relative to the run's start. */
export interface Sample {
  /** The request's number in the run (`send`'s `i`). */
  index: number;
  startMs: number;
  endMs: number;
  status: number;
  ok: boolean;
  error?: string;
}

export interface LoadOptions {
  durationMs: number;
  concurrency: number;
  /** Sends request number `i` of worker `worker`. */
  send(i: number, worker: number): Promise<Reply>;
  ok(reply: Reply): boolean;
  /** Ends the run early once it holds (checked before each request). */
  stop?: () => boolean;
  /** Things to do at given offsets into the run (kill a node, cut a proxy…). */
  at?: Array<{ ms: number; run: () => Promise<void> | void }>;
}

export interface LoadRun {
  samples: Sample[];
  startedAt: number;
  /** When each `at` step ran, relative to the start. */
  marks: number[];
}

/** A closed-loop load: `concurrency` workers send back to back until `durationMs` has passed. */
export async function runLoad(opts: LoadOptions): Promise<LoadRun> {
  const samples: Sample[] = [];
  const startedAt = performance.now();
  const elapsed = () => performance.now() - startedAt;
  let counter = 0;
  const marks: number[] = [];
  const steps = (opts.at ?? []).map(async (step, index) => {
    await sleep(step.ms);
    marks[index] = elapsed();
    await step.run();
  });
  const workers = Array.from({ length: opts.concurrency }, async (_, worker) => {
    while (elapsed() < opts.durationMs && !opts.stop?.()) {
      const i = counter++;
      const startMs = elapsed();
      const reply = await opts.send(i, worker);
      samples.push({
        index: i,
        startMs,
        endMs: elapsed(),
        status: reply.status,
        ok: opts.ok(reply),
        error: reply.error,
      });
      // A failing request answers at once; do not spin the CPU the cluster needs.
      if (reply.status === 0 || reply.status >= 500) await sleep(5);
    }
  });
  await Promise.all([...workers, ...steps]);
  return { samples, startedAt, marks };
}

export function summarize(samples: Sample[]): {
  requests: number;
  failed: number;
  failedShare: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
} {
  const durations = samples.map(s => s.endMs - s.startMs);
  const failed = samples.filter(s => !s.ok).length;
  const statuses: Record<string, number> = {};
  for (const s of samples) {
    const key = s.status === 0 ? (s.error ?? "network") : String(s.status);
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  return {
    requests: samples.length,
    failed,
    failedShare: samples.length ? failed / samples.length : 0,
    p50: round(percentile(durations, 50), 1),
    p99: round(percentile(durations, 99), 1),
    max: round(Math.max(0, ...durations), 1),
    statuses,
  };
}
