import fs from "node:fs";
import path from "node:path";
import type { MeasuredSlice, RatioPoint, Verdict } from "./slices";

/** The shape of bench/results/latest.json and its Markdown rendering (bench/results/latest.md). */

export interface ScenarioFigure {
  name: string;
  /** Short id: "1", "2", …, "7a" (what the issue numbers them). */
  id: string;
  /** Median req/s over the scenario's slices, and their lowest and highest. */
  rps: number;
  rpsMin: number;
  rpsMax: number;
  /** Medians over the slices of each slice's percentile; max is the largest seen. */
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** Median of the slices' ratios, each slice's req/s over the baseline slices around it. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** (ratioMax − ratioMin) / ratio. */
  spread: number;
  /** The target ratio (or null when the scenario has none). */
  target: number | null;
  verdict: Verdict;
  /** True only when every slice's ratio reaches the target and the spread is within bounds. */
  met: boolean | null;
  requests: number;
  slices: number;
  /** 1-minute load average seen at the ends of its slices, CPU stolen and busy during them. */
  load1: { min: number; max: number };
  stealPct: { median: number; max: number };
  busyPct: { median: number; max: number };
  /** Each slice's ratio with the indices of the baseline slices it was divided by (see `slices`). */
  points: RatioPoint[];
  note?: string;
}

/** The memory targets of a service node: at rest (ready, before any load) and at its peak under load. */
export const RSS_TARGETS = { atRestMiB: 110, underLoadMiB: 150 };

/** One node's resident set (MiB) over the run. */
export interface NodeRss {
  node: string;
  /** The service(s) it runs ("progress", "baseline-echo"). */
  role: string;
  /** Right after it was ready, before any load. */
  atRestMiB: number | null;
  /** The peak of VmRSS sampled twice a second under load, and the kernel's high-water mark (start-up included). */
  peakMiB: number | null;
  highWaterMiB: number | null;
  /** Against RSS_TARGETS; null for the baseline's nodes, which have no target. */
  atRestMet: boolean | null;
  underLoadMet: boolean | null;
}

/** The settle check's outcome as printed. */
export interface SettleReport {
  rule: string;
  settled: boolean;
  waitedSec: number;
  load1: number;
  busyPct: number;
  stealPct: number;
  over: string[];
}

export interface BenchResults {
  date: string;
  machine: {
    cpus: number;
    cpuModel: string;
    memoryGiB: number;
    platform: string;
    kernel: string;
    loadAverageAtStart: number[];
    /** Before the cluster starts (outside load), and once it is seeded, before the first slice. */
    settle: { atStart: SettleReport; beforeMeasuring: SettleReport };
  };
  versions: Record<string, string>;
  settings: {
    connections: number;
    sliceSec: number;
    warmupSec: number;
    rounds: number;
    maxSpread: number;
    learners: number;
    attempts: number;
    tokens: number;
    quick: boolean;
  };
  baseline: {
    rps: number;
    rpsMin: number;
    rpsMax: number;
    spread: number;
    p50: number;
    p99: number;
    max: number;
    errors: number;
    slices: number;
  };
  scenarios: ScenarioFigure[];
  login: {
    rps: number;
    perCore: number;
    rawHashRate: number;
    rawHashPerCore: number;
    ratioToHash: number;
    ratioToHashMin: number;
    ratioToHashMax: number;
    /** Each login slice's req/s and the raw hash rate measured right after it. */
    pairs: Array<{ round: number; scenarioRps: number; rate: number }>;
    target: number;
    met: boolean;
  };
  events: {
    published: number;
    consumed: number;
    consumedBy: Record<string, number>;
    /** Still in RabbitMQ when the time bound ran out (consumers stopped first): late, not lost. */
    queuedAtEnd: Record<string, number>;
    lost: number;
    perSecond: number;
    seconds: number;
    target: number;
    met: boolean;
  };
  horizontal: Array<{
    scenario: string;
    oneNode: number;
    twoNodes: number;
    gain: number;
    projectedOneCorePerNode: number;
    note: string;
  }>;
  /** How the nodes ran: the compiled build or the sources through tsx (BENCH_RUNTIME). */
  runtime: keyof typeof RUNTIME_TEXT;
  rss: NodeRss[];
  seed: Record<string, number>;
  targets: Array<{ target: string; value: string; met: boolean; cause?: string }>;
  dashboardDegradedParts: number;
  nodeFlags: string;
  cpuMsPerRequest: Record<string, Record<string, number>>;
  /** Every slice in the order it ran: the ratios, medians and spreads above are computed from these. */
  slices: MeasuredSlice[];
  /** The bound on other processes' CPU during a slice, and the slices set aside for passing it. */
  foreignMaxCores: number;
  disturbedSlices: MeasuredSlice[];
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");

/** The line saying which slices were measured again because a neighbour took CPU. */
export function disturbedText(
  r: Pick<BenchResults, "foreignMaxCores" | "disturbedSlices">,
): string {
  const bound = `other processes over ${r.foreignMaxCores} of a core`;
  if (r.disturbedSlices.length === 0) return `No slice was measured again (${bound}: none).`;
  const worst = Math.max(...r.disturbedSlices.map(s => s.foreignCores));
  const ids = [...new Set(r.disturbedSlices.map(s => s.id))].join(", ");
  return (
    `${r.disturbedSlices.length} slice(s) measured again because ${bound} (up to ${f2(worst)} cores) ` +
    `ran beside them (${ids}); the set-aside slices are in \`disturbedSlices\`.`
  );
}
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n * 100)} %` : "–");

/** The baseline's nodes are measured but have no memory target. */
const hasRssTarget = (role: string) => !role.startsWith("baseline");

/** The RSS rows of the nodes a run started, from what was noted at ready and the sampler's peaks. */
export function nodeRss(
  nodes: ReadonlyArray<{ name: string; role: string; atRestMiB?: number }>,
  peaks: ReadonlyMap<string, number>,
  highWater: ReadonlyMap<string, number>,
): NodeRss[] {
  const mib = (n: number | undefined) => (n === undefined ? null : Number(n.toFixed(1)));
  const within = (role: string, value: number | null, bound: number) =>
    hasRssTarget(role) && value !== null ? value <= bound : null;
  return nodes.map(n => {
    const atRest = mib(n.atRestMiB);
    const peak = mib(peaks.get(n.name));
    return {
      node: n.name,
      role: n.role,
      atRestMiB: atRest,
      peakMiB: peak,
      highWaterMiB: mib(highWater.get(n.name)),
      atRestMet: within(n.role, atRest, RSS_TARGETS.atRestMiB),
      underLoadMet: within(n.role, peak, RSS_TARGETS.underLoadMiB),
    };
  });
}

/** The two memory rows of the targets table: the largest service node at rest and under load. */
export function rssTargetRows(rows: NodeRss[]): BenchResults["targets"] {
  const row = (what: string, bound: number, pick: (r: NodeRss) => number | null) => {
    const target = `≤ ${bound} MiB RSS per service node ${what}`;
    const measured = rows.flatMap(r => {
      const mib = pick(r);
      return hasRssTarget(r.role) && mib !== null ? [{ node: r.node, mib }] : [];
    });
    if (measured.length === 0)
      return { target, value: "not measured", met: false, cause: "no service node measured" };
    const worst = measured.reduce((a, m) => (m.mib > a.mib ? m : a));
    const over = measured.filter(m => m.mib > bound);
    return {
      target,
      value: `max ${f0(worst.mib)} MiB (${worst.node})`,
      met: over.length === 0,
      cause:
        over.length === 0
          ? undefined
          : `over: ${over.map(m => `${m.node} ${f0(m.mib)}`).join(", ")} (see rss)`,
    };
  };
  return [
    row("at rest", RSS_TARGETS.atRestMiB, r => r.atRestMiB),
    row("under load", RSS_TARGETS.underLoadMiB, r => r.peakMiB),
  ];
}

const RUNTIME_TEXT = {
  compiled: "from the compiled build (`npm run build`, plain Node, as the Dockerfile runs them)",
  tsx: "from the TypeScript sources through tsx's loader (BENCH_RUNTIME=tsx, as `npm start`)",
};

/** The per-node memory table, as printed and in latest.md. */
export function rssTable(rows: NodeRss[], runtime: keyof typeof RUNTIME_TEXT): string[] {
  const verdict = (met: boolean | null) => (met === null ? "–" : met ? "yes" : "**no**");
  return [
    `**Memory per node** (RSS in MiB; nodes run ${RUNTIME_TEXT[runtime]}): at rest = right after the node was ready, ` +
      "before any load; under load = the peak of VmRSS sampled twice a second, the kernel's high-water mark in brackets.",
    "",
    `| node | runs | at rest | ≤ ${RSS_TARGETS.atRestMiB} | peak under load | ≤ ${RSS_TARGETS.underLoadMiB} |`,
    "|---|---|---:|:---:|---:|:---:|",
    ...rows.map(
      r =>
        `| ${r.node} | ${r.role} | ${f0(r.atRestMiB ?? NaN)} | ${verdict(r.atRestMet)} | ` +
        `${f0(r.peakMiB ?? NaN)} (${f0(r.highWaterMiB ?? NaN)}) | ${verdict(r.underLoadMet)} |`,
    ),
  ];
}

export function verdictText(s: Pick<ScenarioFigure, "verdict" | "spread">, maxSpread: number) {
  switch (s.verdict) {
    case "met":
      return "met";
    case "missed":
      return "**missed**";
    case "straddles":
      return "**not met** (the spread straddles the target)";
    case "noisy":
      return `spread ${pct(s.spread)} > ${pct(maxSpread)}: no verdict`;
    case "none":
      return "–";
  }
}

export function settleText(what: string, s: SettleReport): string {
  const seen = `load ${f2(s.load1)}, CPU busy ${f0(s.busyPct)} %, steal ${f1(s.stealPct)} %`;
  return s.settled
    ? `${what}: settled after ${f0(s.waitedSec)} s (${s.rule}; ${seen}).`
    : `${what}: **did not settle** within ${f0(s.waitedSec)} s (${s.rule}; last: ${seen}` +
        (s.over.length > 0 ? `; over: ${s.over.join(", ")}` : "") +
        ") — the machine was not quiet: read the figures with the load and steal beside them.";
}

export function markdown(r: BenchResults): string {
  const lines: string[] = [];
  lines.push(
    `Measured ${r.date} on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ` +
      `${r.machine.platform} ${r.machine.kernel}; Node ${r.versions.node}, moleculer ${r.versions.moleculer}, ` +
      `moleculer-web ${r.versions["moleculer-web"]}, autocannon ${r.versions.autocannon}. ` +
      `${r.settings.connections} connections; ${r.settings.rounds} rounds of ${r.settings.sliceSec} s slices, ` +
      `a baseline slice between every two scenario slices, after a ${r.settings.warmupSec} s warm-up of each; ` +
      `${f0(r.settings.learners)} learners, ${f0(r.settings.attempts)} seeded attempts` +
      `${r.settings.quick ? " (BENCH_QUICK: a short trial, not a result)" : ""}. ` +
      `Load average at start: ${r.machine.loadAverageAtStart.map(f2).join(" / ")}.`,
  );
  lines.push("");
  lines.push(settleText("Settle check at start", r.machine.settle.atStart));
  lines.push(settleText("Settle check before the first slice", r.machine.settle.beforeMeasuring));
  lines.push("");
  lines.push(
    "× baseline: each scenario slice's req/s over the mean of the baseline slices just before and after it; " +
      `median of the slices, min–max, spread = (max − min) / median. A verdict needs a spread ≤ ${pct(r.settings.maxSpread)}; ` +
      "met = every slice reaches the target. req/s, p50 and p99 are medians over the slices; load is the 1-minute load average " +
      "at the slices' ends, steal the CPU time the hypervisor took during them (median / max).",
  );
  lines.push("");
  lines.push(
    "| # | scenario | req/s | p50 ms | p99 ms | errors | × baseline | min–max | spread | load 1 min | steal % | target | verdict |",
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---|");
  const b = r.baseline;
  const baselineSlices = r.slices.filter(s => s.kind === "baseline");
  const load = (xs: number[]) => `${f1(Math.min(...xs))}–${f1(Math.max(...xs))}`;
  lines.push(
    `| – | baseline: bare moleculer-web → echo action over NATS (${b.slices} slices) | ${f0(b.rps)} (${f0(b.rpsMin)}–${f0(b.rpsMax)}) | ${f1(b.p50)} | ${f1(b.p99)} | ${b.errors} | 1.00 | ${f2(b.rpsMin / b.rps)}–${f2(b.rpsMax / b.rps)} | ${pct(b.spread)} | ${load(baselineSlices.map(s => s.load1))} | ${f1(Math.max(...baselineSlices.map(s => s.stealPct)))} max | – | – |`,
  );
  for (const s of r.scenarios) {
    lines.push(
      `| ${s.id} | ${s.name} | ${f0(s.rps)} | ${f1(s.p50)} | ${f1(s.p99)} | ${s.errors} | ${f2(s.ratio)} | ${f2(s.ratioMin)}–${f2(s.ratioMax)} | ${pct(s.spread)} | ${f1(s.load1.min)}–${f1(s.load1.max)} | ${f1(s.stealPct.median)} / ${f1(s.stealPct.max)} | ${s.target === null ? "–" : `≥ ${s.target}`} | ${verdictText(s, r.settings.maxSpread)} |`,
    );
  }
  lines.push("");
  lines.push(disturbedText(r));
  for (const s of r.scenarios.filter(x => x.note)) {
    lines.push("");
    lines.push(`Scenario ${s.id}: ${s.note}.`);
  }
  lines.push("");
  lines.push(
    `**Login** (5): ${f0(r.login.rps)} logins/s = ${f0(r.login.perCore)} per core; raw Argon2id hash rate ` +
      `(m = 19 MiB, t = 2, p = 1, measured in the runner right after each login slice: 4 libuv threads; the nodes run one per core) ${f0(r.login.rawHashRate)}/s = ${f0(r.login.rawHashPerCore)} per core → ` +
      `${f2(r.login.ratioToHash)} of the hash rate, median of ${r.login.pairs.length} slice pairs (${f2(r.login.ratioToHashMin)}–${f2(r.login.ratioToHashMax)}; target ≥ ${r.login.target}: ${r.login.met ? "met" : "**missed**"}).`,
  );
  lines.push("");
  lines.push(
    `**Durable events** (6): ${f0(r.events.published)} published through the outbox with publisher confirms, ` +
      `consumed by ${Object.entries(r.events.consumedBy)
        .map(([k, v]) => `${k} ${f0(v)}`)
        .join(", ")}; ${f0(r.events.perSecond)} events/s end to end (${f1(r.events.seconds)} s), ` +
      (Object.keys(r.events.queuedAtEnd).length > 0
        ? `still queued (not lost) when the time bound ran out: ${JSON.stringify(r.events.queuedAtEnd)}; `
        : "") +
      `**${r.events.lost} lost** (target ≥ ${f0(r.events.target)}/s, 0 lost: ${r.events.met ? "met" : "**missed**"}).`,
  );
  lines.push("");
  lines.push("**Horizontal** (7):");
  lines.push("");
  lines.push(
    "| scenario | 1 node req/s | 2 nodes req/s | gain (of the × baseline medians) | projection, 1 core per node | note |",
  );
  lines.push("|---|---:|---:|---:|---:|---|");
  for (const h of r.horizontal) {
    lines.push(
      `| ${h.scenario} | ${f0(h.oneNode)} | ${f0(h.twoNodes)} | ${f2(h.gain)}× | ${f0(h.projectedOneCorePerNode)} | ${h.note} |`,
    );
  }
  lines.push("");
  lines.push(...rssTable(r.rss, r.runtime));
  lines.push("");
  lines.push("| target | value | met |");
  lines.push("|---|---|:---:|");
  for (const t of r.targets) {
    lines.push(`| ${t.target} | ${t.value} | ${t.met ? "yes" : `**no** — ${t.cause ?? ""}`} |`);
  }
  return lines.join("\n") + "\n";
}

/** Where every run's figures are also kept, one file per run, for `npm run bench:compare`. */
export const RUNS_DIR = "runs";

export function writeResults(dir: string, results: BenchResults): { json: string; md: string } {
  fs.mkdirSync(path.join(dir, RUNS_DIR), { recursive: true });
  const json = path.join(dir, "latest.json");
  const md = path.join(dir, "latest.md");
  const text = JSON.stringify(results, null, 2) + "\n";
  fs.writeFileSync(json, text);
  fs.writeFileSync(path.join(dir, RUNS_DIR, `${results.date.replace(/[:.]/g, "-")}.json`), text);
  fs.writeFileSync(md, markdown(results));
  return { json, md };
}
