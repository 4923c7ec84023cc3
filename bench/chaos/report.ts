import type { DrillResult } from "./drill";

interface Report {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; platform: string };
  versions: { node: string; moleculer: string };
  faults: string;
  drills: DrillResult[];
}

function valueText(value: number | string | boolean, unit?: string): string {
  if (unit === "%") return `${value} %`;
  return unit ? `${value} ${unit}` : String(value);
}

function rows(results: DrillResult[]): string[][] {
  const out: string[][] = [];
  for (const result of results) {
    if (result.error) {
      out.push([`${result.id}`, result.name, "error", result.error.slice(0, 120), "", "FAIL"]);
      continue;
    }
    for (const c of result.checks) {
      out.push([
        `${result.id}`,
        result.name,
        c.figure,
        valueText(c.value, c.unit),
        c.target ?? "",
        c.pass === undefined ? "" : c.pass ? "ok" : "MISSED",
      ]);
    }
  }
  return out;
}

const HEADER = ["#", "drill", "figure", "value", "target", ""];

/** The final table on the terminal: fixed-width columns. */
export function renderTable(results: DrillResult[]): string {
  const all = [HEADER, ...rows(results)];
  const widths = HEADER.map((_, i) => Math.min(60, Math.max(...all.map(row => row[i].length))));
  const line = (row: string[]) =>
    row
      .map((cell, i) => cell.slice(0, widths[i]).padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  const verdicts = results.map(r => `drill ${r.id}: ${r.passed ? "passed" : "FAILED"}`).join(" · ");
  return [
    line(all[0]),
    widths.map(w => "-".repeat(w)).join("  "),
    ...all.slice(1).map(line),
    "",
    verdicts,
  ].join("\n");
}

/** The Markdown the README section (docs/chaos.md) embeds. */
export function renderMarkdown(report: Report): string {
  const m = report.machine;
  const lines = [
    `Measured ${report.date.slice(0, 10)} on ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.platform}; Node ${report.versions.node}, moleculer ${report.versions.moleculer}. ${report.faults}`,
    "",
    "| # | drill | figure | value | target | |",
    "|---|---|---|---|---|---|",
    ...rows(report.drills).map(
      row => `| ${row.map(cell => cell.replace(/\|/g, "\\|")).join(" | ")} |`,
    ),
    "",
  ];
  return lines.join("\n");
}
