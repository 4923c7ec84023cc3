import fs from "node:fs";

/**
 * How busy the machine is, from /proc: the load average (/proc/loadavg) and the share of
 * CPU time that was busy or stolen by the hypervisor between two reads of /proc/stat.
 * `npm run bench` waits for the machine to settle before it measures, and records both
 * during every slice, so a figure taken on a busy or stolen-from machine says so.
 */

export interface LoadAverage {
  load1: number;
  load5: number;
  load15: number;
  /** Runnable scheduling entities right now (the 4th field's numerator). */
  running: number;
}

export function parseLoadavg(text: string): LoadAverage {
  const match = /^\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\d+)\/\d+/.exec(text);
  if (!match) throw new Error(`unreadable /proc/loadavg: ${JSON.stringify(text.slice(0, 80))}`);
  return {
    load1: Number(match[1]),
    load5: Number(match[2]),
    load15: Number(match[3]),
    running: Number(match[4]),
  };
}

/** The machine's aggregate CPU time in clock ticks (the "cpu" line of /proc/stat). */
export interface CpuTimes {
  total: number;
  idle: number;
  steal: number;
}

export function parseProcStat(text: string): CpuTimes {
  const line = text.split("\n").find(l => /^cpu\s/.test(l));
  if (!line) throw new Error("no aggregate cpu line in /proc/stat");
  // user nice system idle iowait irq softirq steal [guest guest_nice]: guest time is already
  // counted in user and nice, so it is left out of the total.
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1, 9)
    .map(v => Number(v) || 0);
  return {
    total: user + nice + system + idle + iowait + irq + softirq + steal,
    idle: idle + iowait,
    steal,
  };
}

/** Busy (neither idle nor stolen) and stolen shares of the CPU time between two reads, in %. */
export function cpuShares(
  before: CpuTimes,
  after: CpuTimes,
): { busyPct: number; stealPct: number } {
  const total = after.total - before.total;
  if (total <= 0) return { busyPct: 0, stealPct: 0 };
  const steal = after.steal - before.steal;
  const idle = after.idle - before.idle;
  return {
    busyPct: (100 * (total - idle - steal)) / total,
    stealPct: (100 * steal) / total,
  };
}

export interface SystemSample {
  load1: number;
  busyPct: number;
  stealPct: number;
}

/** Upper bounds of a settled machine; an absent bound is not checked. */
export interface SettleRule {
  maxLoad1?: number;
  maxBusyPct?: number;
  maxStealPct?: number;
  /** How many samples in a row must be under every bound. */
  consecutive: number;
}

/**
 * Outside load before the cluster starts: what the machine does now, its busy and stolen
 * shares over a few samples in a row. Not the 1-minute load average, which is printed beside
 * it: it decays by e^(−t / 60 s), so after the build the run makes first, or after an earlier
 * run, it stays over any useful bound on an idle machine for a minute or more (from 3.9 to 1
 * takes 80 s) — every wait ran to its bound and measured nothing the busy share does not.
 */
export function quietNowRule(maxBusyPct: number, maxStealPct: number): SettleRule {
  return { maxBusyPct, maxStealPct, consecutive: 3 };
}

/** What is over its bound in `sample` (empty when it is under every bound). */
export function overBounds(sample: SystemSample, rule: SettleRule): string[] {
  const over: string[] = [];
  if (rule.maxLoad1 !== undefined && sample.load1 > rule.maxLoad1)
    over.push(`load ${sample.load1.toFixed(2)} > ${rule.maxLoad1}`);
  if (rule.maxBusyPct !== undefined && sample.busyPct > rule.maxBusyPct)
    over.push(`CPU busy ${sample.busyPct.toFixed(0)} % > ${rule.maxBusyPct} %`);
  if (rule.maxStealPct !== undefined && sample.stealPct > rule.maxStealPct)
    over.push(`steal ${sample.stealPct.toFixed(1)} % > ${rule.maxStealPct} %`);
  return over;
}

/** Whether the last `rule.consecutive` samples are all under every bound. */
export function isSettled(samples: SystemSample[], rule: SettleRule): boolean {
  const needed = Math.max(1, rule.consecutive);
  if (samples.length < needed) return false;
  return samples.slice(-needed).every(s => overBounds(s, rule).length === 0);
}

export interface SettleOutcome {
  settled: boolean;
  waitedSec: number;
  /** The last sample, and what was over its bound in it (empty when settled). */
  last: SystemSample;
  over: string[];
  samples: SystemSample[];
}

export interface ProcReader {
  loadavg(): string;
  stat(): string;
}

export const PROC: ProcReader = {
  loadavg: () => fs.readFileSync("/proc/loadavg", "utf8"),
  stat: () => fs.readFileSync("/proc/stat", "utf8"),
};

/** Reads of /proc that give a sample over the time between `mark()` and `sample()`. */
export class SystemProbe {
  constructor(private readonly proc: ProcReader = PROC) {}

  mark(): CpuTimes {
    return parseProcStat(this.proc.stat());
  }

  sample(since: CpuTimes): SystemSample {
    const shares = cpuShares(since, parseProcStat(this.proc.stat()));
    return { load1: parseLoadavg(this.proc.loadavg()).load1, ...shares };
  }
}

/**
 * Samples every `intervalMs` until the machine is settled by `rule` or `maxWaitMs` has
 * passed; says which, with the last sample. `sleep` is the clock (a test gives its own).
 */
export async function waitForSettle(
  rule: SettleRule,
  maxWaitMs: number,
  intervalMs: number,
  probe = new SystemProbe(),
  sleep: (ms: number) => Promise<void> = ms => new Promise(r => setTimeout(r, ms)),
): Promise<SettleOutcome> {
  const samples: SystemSample[] = [];
  let waited = 0;
  for (;;) {
    const mark = probe.mark();
    await sleep(intervalMs);
    waited += intervalMs;
    samples.push(probe.sample(mark));
    const last = samples[samples.length - 1];
    const settled = isSettled(samples, rule);
    if (settled || waited >= maxWaitMs) {
      return {
        settled,
        waitedSec: waited / 1000,
        last,
        over: settled ? [] : overBounds(last, rule),
        samples,
      };
    }
  }
}
