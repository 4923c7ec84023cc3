import fs from "node:fs";
import path from "node:path";

/** The shape of bench/results/latest.json and its Markdown rendering (bench/results/latest.md). */

export interface ScenarioFigure {
  name: string;
  /** Short id: "1", "2", …, "7a" (what the issue numbers them). */
  id: string;
  rps: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  /** rps / baseline rps of the same run. */
  ratio: number;
  /** The target ratio (or null when the scenario has none). */
  target: number | null;
  met: boolean | null;
  requests: number;
  note?: string;
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
  };
  versions: Record<string, string>;
  settings: {
    connections: number;
    durationSec: number;
    warmupSec: number;
    learners: number;
    attempts: number;
    tokens: number;
  };
  baseline: { rps: number; p50: number; p99: number; max: number; errors: number };
  scenarios: ScenarioFigure[];
  login: {
    rps: number;
    perCore: number;
    rawHashRate: number;
    rawHashPerCore: number;
    ratioToHash: number;
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
  rssMiB: Record<string, number>;
  rssHighWaterMiB: Record<string, number>;
  rssAtReadyMiB: Record<string, number>;
  seed: Record<string, number>;
  targets: Array<{ target: string; value: string; met: boolean; cause?: string }>;
}

const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–");
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "–");
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");

export function markdown(r: BenchResults): string {
  const lines: string[] = [];
  lines.push(
    `Measured ${r.date} on ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB} GiB, ` +
      `${r.machine.platform} ${r.machine.kernel}; Node ${r.versions.node}, moleculer ${r.versions.moleculer}, ` +
      `moleculer-web ${r.versions["moleculer-web"]}, autocannon ${r.versions.autocannon}. ` +
      `${r.settings.connections} connections, ${r.settings.durationSec} s per scenario after ${r.settings.warmupSec} s warm-up; ` +
      `${f0(r.settings.learners)} learners, ${f0(r.settings.attempts)} seeded attempts. ` +
      `Load average at start: ${r.machine.loadAverageAtStart.map(f2).join(" / ")}.`,
  );
  lines.push("");
  lines.push(
    "| # | scenario | req/s | p50 ms | p99 ms | max ms | errors | × baseline | target | met |",
  );
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|---:|:---:|");
  lines.push(
    `| – | baseline: bare moleculer-web → echo action over NATS | ${f0(r.baseline.rps)} | ${f1(r.baseline.p50)} | ${f1(r.baseline.p99)} | ${f1(r.baseline.max)} | ${r.baseline.errors} | 1.00 | – | – |`,
  );
  for (const s of r.scenarios) {
    const met = s.met === null ? "–" : s.met ? "yes" : "**no**";
    lines.push(
      `| ${s.id} | ${s.name} | ${f0(s.rps)} | ${f1(s.p50)} | ${f1(s.p99)} | ${f1(s.max)} | ${s.errors} | ${f2(s.ratio)} | ${s.target === null ? "–" : `≥ ${s.target}`} | ${met} |`,
    );
  }
  for (const s of r.scenarios.filter(x => x.note)) {
    lines.push("");
    lines.push(`Scenario ${s.id}: ${s.note}.`);
  }
  lines.push("");
  lines.push(
    `**Login** (5): ${f0(r.login.rps)} logins/s = ${f0(r.login.perCore)} per core; raw Argon2id hash rate ` +
      `(m = 19 MiB, t = 2, p = 1, same run, measured in the runner: 4 libuv threads; the nodes run one per core) ${f0(r.login.rawHashRate)}/s = ${f0(r.login.rawHashPerCore)} per core → ` +
      `${f2(r.login.ratioToHash)} of the hash rate (target ≥ ${r.login.target}: ${r.login.met ? "met" : "**missed**"}).`,
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
    "| scenario | 1 node req/s | 2 nodes req/s | gain | projection, 1 core per node | note |",
  );
  lines.push("|---|---:|---:|---:|---:|---|");
  for (const h of r.horizontal) {
    lines.push(
      `| ${h.scenario} | ${f0(h.oneNode)} | ${f0(h.twoNodes)} | ${f2(h.gain)}× | ${f0(h.projectedOneCorePerNode)} | ${h.note} |`,
    );
  }
  lines.push("");
  lines.push(
    "**Peak RSS under load** (MiB, sampled VmRSS; kernel high-water mark in brackets): " +
      Object.entries(r.rssMiB)
        .map(([k, v]) => `${k} ${f0(v)} (${f0(r.rssHighWaterMiB[k] ?? NaN)})`)
        .join(", ") +
      ". Right after start, before any load: " +
      Object.entries(r.rssAtReadyMiB)
        .map(([k, v]) => `${k} ${f0(v)}`)
        .join(", ") +
      ".",
  );
  lines.push("");
  lines.push("| target | value | met |");
  lines.push("|---|---|:---:|");
  for (const t of r.targets) {
    lines.push(`| ${t.target} | ${t.value} | ${t.met ? "yes" : `**no** — ${t.cause ?? ""}`} |`);
  }
  return lines.join("\n") + "\n";
}

export function writeResults(dir: string, results: BenchResults): { json: string; md: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, "latest.json");
  const md = path.join(dir, "latest.md");
  fs.writeFileSync(json, JSON.stringify(results, null, 2) + "\n");
  fs.writeFileSync(md, markdown(results));
  return { json, md };
}
