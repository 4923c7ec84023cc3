import { settleText, verdictText } from "../../bench/report";

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
