import { agreementTable, compareRuns, type RunFigures } from "../../bench/compare";
import type { ScenarioFigure } from "../../bench/report";

function run(date: string, ratios: Record<string, number>, login: number): RunFigures {
  return {
    date,
    scenarios: Object.entries(ratios).map(([id, ratio]) => ({
      ...emptyFigure,
      id,
      name: `scenario ${id}`,
      ratio,
    })),
    login: {
      rps: 0,
      perCore: 0,
      rawHashRate: 0,
      rawHashPerCore: 0,
      ratioToHash: login,
      ratioToHashMin: login,
      ratioToHashMax: login,
      pairs: [],
      target: 0.8,
      met: false,
    },
  };
}

const emptyFigure: ScenarioFigure = {
  name: "",
  id: "",
  rps: 0,
  rpsMin: 0,
  rpsMax: 0,
  p50: 0,
  p99: 0,
  max: 0,
  errors: 0,
  ratio: 0,
  ratioMin: 0,
  ratioMax: 0,
  spread: 0,
  target: null,
  verdict: "none",
  met: null,
  requests: 0,
  slices: 0,
  load1: { min: 0, max: 0 },
  stealPct: { median: 0, max: 0 },
  busyPct: { median: 0, max: 0 },
  points: [],
};

describe("bench:compare — do runs of the same code agree?", () => {
  it("when three runs give 1.0, 1.1 and 0.9 and one scenario 0.5, 0.4, 0.6, then the first is within ±15 % and the second strays by 20 %", () => {
    const rows = compareRuns([
      run("2026-12-02T05:00:00.000Z", { "1": 1.0, "2": 0.5 }, 0.57),
      run("2026-12-02T06:00:00.000Z", { "1": 1.1, "2": 0.4 }, 0.56),
      run("2026-12-02T07:00:00.000Z", { "1": 0.9, "2": 0.6 }, 0.58),
    ]);
    expect(rows.map(r => [r.id, r.median, Number(r.worstDeviation.toFixed(3)), r.within])).toEqual([
      ["1", 1.0, 0.1, true],
      ["2", 0.5, 0.2, false],
      ["5", 0.57, 0.018, true],
    ]);
  });

  it("when a scenario is missing from one run, then it is left out rather than compared with nothing", () => {
    const rows = compareRuns([
      run("2026-12-02T05:00:00.000Z", { "1": 1, "7a": 1 }, 0.5),
      run("2026-12-02T06:00:00.000Z", { "1": 1 }, 0.5),
    ]);
    expect(rows.map(r => r.id)).toEqual(["1", "5"]);
  });

  it("when given one run, then it refuses: agreement needs two", () => {
    expect(() => compareRuns([run("2026-12-02T05:00:00.000Z", { "1": 1 }, 0.5)])).toThrow(
      "at least two runs",
    );
  });

  it("when printed, then each run is a column and a straying ratio is marked", () => {
    const runs = [
      run("2026-12-02T05:00:00.000Z", { "1": 1 }, 0.5),
      run("2026-12-02T06:30:00.000Z", { "1": 2 }, 0.5),
    ];
    const table = agreementTable(runs, compareRuns(runs));
    expect(table.split("\n")[0]).toBe(
      "| scenario | 2026-12-02 05:00 | 2026-12-02 06:30 | median | worst deviation | within ±15.0 % |",
    );
    expect(table).toContain("| 1 scenario 1 | 1.000 | 2.000 | 1.500 | 33.3 % | **no** |");
  });
});
