import { nodeRss, rssTable, rssTargetRows, settleText, verdictText } from "../../bench/report";

describe("bench report: verdicts and settle lines", () => {
  it("when a ratio spreads over the bound, then the table shows the spread instead of a verdict", () => {
    expect(verdictText({ verdict: "noisy", spread: 0.34 }, 0.2)).toBe(
      "spread 34 % > 20 %: no verdict",
    );
  });

  it("when a verdict is given, then met, missed and straddling read differently", () => {
    expect(verdictText({ verdict: "met", spread: 0.05 }, 0.2)).toBe("met");
    expect(verdictText({ verdict: "missed", spread: 0.05 }, 0.2)).toBe("**missed**");
    expect(verdictText({ verdict: "straddles", spread: 0.1 }, 0.2)).toBe(
      "**not met** (the spread straddles the target)",
    );
    expect(verdictText({ verdict: "none", spread: 0.1 }, 0.2)).toBe("–");
  });

  it("when the machine did not settle, then the line says so with what was over its bound", () => {
    const line = settleText("Settle check at start", {
      rule: "load ≤ 1, steal ≤ 5 %, 2 samples in a row",
      settled: false,
      waitedSec: 60,
      load1: 3.85,
      busyPct: 97,
      stealPct: 0.3,
      over: ["load 3.85 > 1"],
    });
    expect(line).toBe(
      "Settle check at start: **did not settle** within 60 s (load ≤ 1, steal ≤ 5 %, 2 samples in a row; " +
        "last: load 3.85, CPU busy 97 %, steal 0.3 %; over: load 3.85 > 1) — the machine was not quiet: read the figures with the load and steal beside them.",
    );
  });

  it("when the machine settled, then the line gives the wait and the figures seen", () => {
    const line = settleText("Settle check at start", {
      rule: "load ≤ 1, steal ≤ 5 %, 2 samples in a row",
      settled: true,
      waitedSec: 4,
      load1: 0.31,
      busyPct: 3,
      stealPct: 0,
      over: [],
    });
    expect(line).toBe(
      "Settle check at start: settled after 4 s (load ≤ 1, steal ≤ 5 %, 2 samples in a row; load 0.31, CPU busy 3 %, steal 0.0 %).",
    );
  });
});

describe("bench report: memory per node", () => {
  const rows = nodeRss(
    [
      { name: "api-1", role: "api", atRestMiB: 84.26 },
      { name: "users-1", role: "users", atRestMiB: 112 },
      { name: "baseline-echo", role: "baseline-echo", atRestMiB: 70 },
      { name: "notify-1", role: "notify" },
    ],
    new Map([
      ["api-1", 131.4],
      ["users-1", 163],
      ["baseline-echo", 200],
    ]),
    new Map([["api-1", 133]]),
  );

  it("when nodes are measured, then each service node is judged at rest (≤ 110) and under load (≤ 150), the baseline not", () => {
    expect(rows).toEqual([
      {
        node: "api-1",
        role: "api",
        atRestMiB: 84.3,
        peakMiB: 131.4,
        highWaterMiB: 133,
        atRestMet: true,
        underLoadMet: true,
      },
      {
        node: "users-1",
        role: "users",
        atRestMiB: 112,
        peakMiB: 163,
        highWaterMiB: null,
        atRestMet: false,
        underLoadMet: false,
      },
      {
        node: "baseline-echo",
        role: "baseline-echo",
        atRestMiB: 70,
        peakMiB: 200,
        highWaterMiB: null,
        atRestMet: null,
        underLoadMet: null,
      },
      {
        node: "notify-1",
        role: "notify",
        atRestMiB: null,
        peakMiB: null,
        highWaterMiB: null,
        atRestMet: null,
        underLoadMet: null,
      },
    ]);
  });

  it("when a service node is over a bound, then its target row names it and the baseline does not count", () => {
    expect(rssTargetRows(rows)).toEqual([
      {
        target: "≤ 110 MiB RSS per service node at rest",
        value: "max 112 MiB (users-1)",
        met: false,
        cause: "over: users-1 112 (see rss)",
      },
      {
        target: "≤ 150 MiB RSS per service node under load",
        value: "max 163 MiB (users-1)",
        met: false,
        cause: "over: users-1 163 (see rss)",
      },
    ]);
    expect(rssTargetRows(rows.slice(0, 1)).map(t => t.met)).toEqual([true, true]);
  });

  it("when the table is printed, then each node has both columns and a verdict or a dash", () => {
    const table = rssTable(rows, "compiled");
    expect(table[0]).toMatch(/compiled build/);
    expect(table).toContain("| api-1 | api | 84 | yes | 131 (133) | yes |");
    expect(table).toContain("| users-1 | users | 112 | **no** | 163 (–) | **no** |");
    expect(table).toContain("| baseline-echo | baseline-echo | 70 | – | 200 (–) | – |");
  });
});
