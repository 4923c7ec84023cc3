/**
 * The interleaved measurement of `npm run bench`, its pure part: which slice runs when,
 * and what the slices say. The baseline runs between every two scenario slices, so each
 * scenario slice is divided by the baseline measured just before and just after it, under
 * the same weather; repeating the round gives a median and a spread per scenario.
 */

/** One slot of the schedule: a baseline slice, or round `round` of scenario `id`. */
export type PlannedSlice = { kind: "baseline" } | { kind: "scenario"; id: string; round: number };

/**
 * Rounds of the scenarios in a fixed order, a baseline slice before the first, between
 * every two and after the last: B s1 B s2 … B sn B s1 B … sn B. A round-robin rather than
 * all of one scenario's slices in a row, so that a burst of outside load lands on one
 * slice of several scenarios (the median discards it) instead of on every slice of one.
 */
export function interleave(ids: string[], rounds: number): PlannedSlice[] {
  if (ids.length === 0 || rounds < 1) return [];
  const plan: PlannedSlice[] = [{ kind: "baseline" }];
  for (let round = 0; round < rounds; round += 1) {
    for (const id of ids) plan.push({ kind: "scenario", id, round }, { kind: "baseline" });
  }
  return plan;
}

/** What one slice measured, as kept in bench/results/latest.json. */
export interface MeasuredSlice {
  /** Position in the run (0-based): a reader finds a slice's neighbours by it. */
  index: number;
  kind: "baseline" | "scenario";
  /** The scenario id ("1", "2", …), "baseline" for a baseline slice. */
  id: string;
  /** Round of a scenario slice; a baseline slice carries that of the scenario slice before it (0 for the first). */
  round: number;
  startedAt: string;
  durationSec: number;
  rps: number;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** 1-minute load average at the end of the slice (/proc/loadavg). */
  load1: number;
  /** Share of the machine's CPU time during the slice that was busy / stolen by the hypervisor (/proc/stat). */
  busyPct: number;
  stealPct: number;
  /** CPU seconds each node spent during the slice. */
  cpuSeconds: Record<string, number>;
  /** Seconds waited after the slice for the nodes to go idle before the next one started. */
  drainedSec: number;
  /** Cores that processes outside the bench and its servers used during the slice (bench/foreign.ts). */
  foreignCores: number;
}

/** One scenario slice next to the baseline around it. */
export interface RatioPoint {
  round: number;
  sliceIndex: number;
  rps: number;
  baselineBeforeIndex: number;
  baselineAfterIndex: number;
  /** Mean of the req/s of the baseline slices just before and just after. */
  baselineRps: number;
  ratio: number;
}

/**
 * Each slice of scenario `id` divided by the mean of the nearest baseline slice before it
 * and the nearest after it (the one present, if the run ended without one).
 */
export function ratiosAround(slices: MeasuredSlice[], id: string): RatioPoint[] {
  const points: RatioPoint[] = [];
  slices.forEach((slice, i) => {
    if (slice.kind !== "scenario" || slice.id !== id) return;
    let before = -1;
    for (let j = i - 1; j >= 0 && before < 0; j -= 1) if (slices[j].kind === "baseline") before = j;
    let after = -1;
    for (let j = i + 1; j < slices.length && after < 0; j += 1)
      if (slices[j].kind === "baseline") after = j;
    if (before < 0 && after < 0) return;
    const around = [before, after].filter(j => j >= 0).map(j => slices[j].rps);
    const baselineRps = around.reduce((sum, v) => sum + v, 0) / around.length;
    points.push({
      round: slice.round,
      sliceIndex: slice.index,
      rps: slice.rps,
      baselineBeforeIndex: before < 0 ? after : slices[before].index,
      baselineAfterIndex: after < 0 ? before : slices[after].index,
      baselineRps,
      ratio: baselineRps > 0 ? slice.rps / baselineRps : 0,
    });
  });
  return points;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** (max − min) / median: 0.2 means the slices spanned 20 % of their median. */
  spread: number;
}

export function spreadOf(values: number[]): Spread {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, spread: NaN };
  const mid = median(values);
  const min = Math.min(...values);
  const max = Math.max(...values);
  const width = max - min;
  return { median: mid, min, max, spread: width === 0 ? 0 : mid > 0 ? width / mid : Infinity };
}

/** A ratio whose slices spread wider than this (relative to their median) gets no verdict. */
export const MAX_SPREAD = 0.2;

/**
 * - `noisy`: the slices spread over `maxSpread`: the run says nothing about the target;
 * - `met`: every slice's ratio (the whole min–max) reaches the target;
 * - `missed`: not one slice reaches it;
 * - `straddles`: some do, some do not (not met);
 * - `none`: the scenario has no target.
 */
export type Verdict = "met" | "missed" | "straddles" | "noisy" | "none";

export function verdict(ratio: Spread, target: number | null, maxSpread = MAX_SPREAD): Verdict {
  // The tolerance keeps a spread printed as "20 %" (0.9–1.1 is 0.2000000001 in floats) at 20 %.
  if (!(ratio.spread <= maxSpread + 1e-9)) return "noisy";
  if (target === null) return "none";
  if (ratio.min >= target) return "met";
  if (ratio.max < target) return "missed";
  return "straddles";
}

export interface ScenarioSummary {
  id: string;
  slices: number;
  ratio: Spread;
  points: RatioPoint[];
  rps: Spread;
  /** Medians over the slices of each slice's latency percentile; max is the largest seen. */
  p50: number;
  p99: number;
  max: number;
  errors: number;
  requests: number;
  load1: { min: number; max: number };
  stealPct: { median: number; max: number };
  busyPct: { median: number; max: number };
  /** CPU milliseconds per request per node, over all the scenario's slices together. */
  cpuMsPerRequest: Record<string, number>;
}

/** Everything the report prints about scenario `id` (or "baseline"), from the slices alone. */
export function summarize(slices: MeasuredSlice[], id: string): ScenarioSummary {
  const own = slices.filter(s => s.id === id);
  const baselineMedian = median(own.map(s => s.rps));
  const points = id === "baseline" ? [] : ratiosAround(slices, id);
  const requests = own.reduce((sum, s) => sum + s.requests, 0);
  const cpu: Record<string, number> = {};
  for (const slice of own) {
    for (const [node, seconds] of Object.entries(slice.cpuSeconds))
      cpu[node] = (cpu[node] ?? 0) + seconds;
  }
  const cpuMsPerRequest: Record<string, number> = {};
  if (requests > 0) {
    for (const [node, seconds] of Object.entries(cpu))
      cpuMsPerRequest[node] = (seconds * 1000) / requests;
  }
  const steal = own.map(s => s.stealPct);
  const busy = own.map(s => s.busyPct);
  return {
    id,
    slices: own.length,
    // The baseline's own slices relative to their median: how much the weather moved it.
    ratio: spreadOf(
      id === "baseline" ? own.map(s => s.rps / baselineMedian) : points.map(p => p.ratio),
    ),
    points,
    rps: spreadOf(own.map(s => s.rps)),
    p50: median(own.map(s => s.p50)),
    p99: median(own.map(s => s.p99)),
    max: Math.max(...own.map(s => s.max)),
    errors: own.reduce((sum, s) => sum + s.errors, 0),
    requests,
    load1: { min: Math.min(...own.map(s => s.load1)), max: Math.max(...own.map(s => s.load1)) },
    stealPct: { median: median(steal), max: Math.max(...steal) },
    busyPct: { median: median(busy), max: Math.max(...busy) },
    cpuMsPerRequest,
  };
}

/**
 * Whether another round of `sliceCount` slices of `sliceMs` each (plus `overheadMs` per
 * slice) still ends before `deadline`; the first `minRounds` rounds always run.
 */
export function roundFits(
  round: number,
  minRounds: number,
  now: number,
  deadline: number,
  sliceCount: number,
  sliceMs: number,
  overheadMs: number,
): boolean {
  if (round < minRounds) return true;
  return now + sliceCount * (sliceMs + overheadMs) <= deadline;
}
