import fs from "node:fs";
import path from "node:path";
import { RUNS_DIR, type BenchResults } from "./report";
import { median } from "./slices";

/**
 * Do several runs of `npm run bench` on the same code agree? Every ratio the table prints (each
 * scenario's median × baseline, and login's share of the raw hash rate) is compared with the
 * median of that ratio over the runs; a run agrees when it is within the tolerance of it.
 *
 * Usage: `npm run bench:compare` (the last three runs kept in bench/results/runs/) or
 * `npm run bench:compare -- a.json b.json c.json`. Exits 1 when a ratio strays.
 */

/** What the issue asks of three consecutive runs: every ratio within ±15 % of their median. */
export const TOLERANCE = 0.15;

export type RunFigures = Pick<BenchResults, "date" | "scenarios" | "login">;

export interface RatioAgreement {
  id: string;
  name: string;
  ratios: number[];
  median: number;
  /** The largest |ratio − median| / median over the runs. */
  worstDeviation: number;
  within: boolean;
}

export function ratiosOf(run: RunFigures): Map<string, { name: string; ratio: number }> {
  const ratios = new Map(run.scenarios.map(s => [s.id, { name: s.name, ratio: s.ratio }]));
  ratios.set("5", { name: "login ÷ raw Argon2id hash rate", ratio: run.login.ratioToHash });
  return ratios;
}

export function compareRuns(runs: RunFigures[], tolerance = TOLERANCE): RatioAgreement[] {
  if (runs.length < 2) throw new Error(`comparing needs at least two runs, got ${runs.length}`);
  const perRun = runs.map(ratiosOf);
  const ids = [...perRun[0].keys()].filter(id => perRun.every(r => r.has(id)));
  return ids.map(id => {
    const ratios = perRun.map(r => r.get(id)?.ratio ?? Number.NaN);
    const mid = median(ratios);
    const worstDeviation = Math.max(...ratios.map(r => Math.abs(r - mid) / mid));
    return {
      id,
      name: perRun[0].get(id)?.name ?? id,
      ratios,
      median: mid,
      worstDeviation,
      within: worstDeviation <= tolerance,
    };
  });
}

export function agreementTable(
  runs: RunFigures[],
  rows: RatioAgreement[],
  tolerance = TOLERANCE,
): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const lines = [
    `| scenario | ${runs.map(r => r.date.slice(0, 16).replace("T", " ")).join(" | ")} | median | worst deviation | within ±${pct(tolerance)} |`,
    `|---|${runs.map(() => "---:").join("|")}|---:|---:|:---:|`,
    ...rows.map(
      r =>
        `| ${r.id} ${r.name} | ${r.ratios.map(x => x.toFixed(3)).join(" | ")} | ${r.median.toFixed(3)} | ${pct(r.worstDeviation)} | ${r.within ? "yes" : "**no**"} |`,
    ),
  ];
  return lines.join("\n") + "\n";
}

function lastRuns(count: number): string[] {
  const dir = path.join(__dirname, "results", RUNS_DIR);
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter(f => f.endsWith(".json")) : [];
  return files
    .sort()
    .slice(-count)
    .map(f => path.join(dir, f));
}

function main(): void {
  const files = process.argv.length > 2 ? process.argv.slice(2) : lastRuns(3);
  if (files.length < 2) {
    console.error(
      `bench:compare: found ${files.length} run(s); run \`npm run bench\` at least twice first`,
    );
    process.exit(2);
  }
  const runs = files.map(f => JSON.parse(fs.readFileSync(f, "utf8")) as RunFigures);
  const rows = compareRuns(runs);
  console.log(agreementTable(runs, rows));
  const strays = rows.filter(r => !r.within);
  console.log(
    strays.length === 0
      ? `All ${rows.length} ratios of ${runs.length} runs are within ±${TOLERANCE * 100} % of their median.`
      : `${strays.length} of ${rows.length} ratios stray: ${strays.map(r => r.id).join(", ")}.`,
  );
  process.exitCode = strays.length === 0 ? 0 : 1;
}

if (require.main === module) main();
