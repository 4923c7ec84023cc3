import {
  interleave,
  median,
  ratiosAround,
  roundFits,
  spreadOf,
  summarize,
  verdict,
  type MeasuredSlice,
  type PlannedSlice,
} from "../../bench/slices";

/** Slices as the runner records them, from a compact list of [id, rps] (baseline = "B"). */
function slicesOf(list: Array<[string, number]>): MeasuredSlice[] {
  return list.map(([id, rps], index) => ({
    index,
    kind: id === "B" ? "baseline" : "scenario",
    id: id === "B" ? "baseline" : id,
    round: 0,
    startedAt: new Date(0).toISOString(),
    durationSec: 3,
    rps,
    requests: rps * 3,
    p50: 1 + index,
    p99: 10 + index,
    max: 20 + index,
    errors: 0,
    load1: 1 + index / 10,
    busyPct: 50,
    stealPct: index,
    cpuSeconds: { "api-1": 0.3 },
    drainedSec: 0.25,
    foreignCores: 0,
  }));
}

describe("bench slice schedule", () => {
  const label = (s: PlannedSlice) => (s.kind === "baseline" ? "B" : `${s.id}.${s.round}`);

  it("when two scenarios run three rounds, then a baseline slice is before, between and after every scenario slice, round-robin", () => {
    expect(interleave(["1", "2"], 3).map(label)).toEqual([
      "B",
      "1.0",
      "B",
      "2.0",
      "B",
      "1.1",
      "B",
      "2.1",
      "B",
      "1.2",
      "B",
      "2.2",
      "B",
    ]);
  });

  it("when there is no scenario or no round, then nothing is scheduled", () => {
    expect(interleave([], 5)).toEqual([]);
    expect(interleave(["1"], 0)).toEqual([]);
  });

  it("when the first rounds are not done yet, then they run whatever the clock; later ones only if they end by the deadline", () => {
    expect(roundFits(2, 3, 1000, 0, 10, 3000, 100)).toBe(true);
    expect(roundFits(3, 3, 0, 31_000, 10, 3000, 100)).toBe(true);
    expect(roundFits(3, 3, 0, 30_999, 10, 3000, 100)).toBe(false);
  });
});

describe("bench ratios against the baseline around each slice", () => {
  it("when a scenario slice sits between two baseline slices, then its ratio is its req/s over their mean", () => {
    const slices = slicesOf([
      ["B", 1000],
      ["1", 600],
      ["B", 2000],
      ["2", 300],
      ["B", 1000],
      ["1", 450],
      ["B", 500],
    ]);
    const points = ratiosAround(slices, "1");
    expect(points.map(p => [p.baselineBeforeIndex, p.baselineAfterIndex])).toEqual([
      [0, 2],
      [4, 6],
    ]);
    expect(points.map(p => p.baselineRps)).toEqual([1500, 750]);
    expect(points.map(p => p.ratio)).toEqual([0.4, 0.6]);
    expect(ratiosAround(slices, "2").map(p => p.ratio)).toEqual([0.2]);
  });

  it("when a run ended without a closing baseline slice, then the one before serves alone", () => {
    const points = ratiosAround(
      slicesOf([
        ["B", 1000],
        ["1", 250],
      ]),
      "1",
    );
    expect(points).toEqual([
      expect.objectContaining({ baselineBeforeIndex: 0, baselineAfterIndex: 0, ratio: 0.25 }),
    ]);
  });

  it("when a scenario has no baseline slice at all, then it gets no ratio", () => {
    expect(ratiosAround(slicesOf([["1", 250]]), "1")).toEqual([]);
  });
});

describe("bench median and spread", () => {
  it("when the count is odd or even, then the median is the middle value or the mean of the two middle ones", () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it("when values spread, then the spread is (max − min) over the median", () => {
    const s = spreadOf([0.5, 0.4, 0.6]);
    expect([s.median, s.min, s.max]).toEqual([0.5, 0.4, 0.6]);
    expect(s.spread).toBeCloseTo(0.4);
    expect(spreadOf([0.3, 0.3]).spread).toBe(0);
    expect(spreadOf([0, 0, 1]).spread).toBe(Infinity);
    expect(spreadOf([]).spread).toBeNaN();
  });

  it("when a scenario is summarized, then its figures come from its own slices and its ratios from the baseline around them", () => {
    const slices = slicesOf([
      ["B", 1000],
      ["1", 500],
      ["B", 1000],
      ["1", 520],
      ["B", 1200],
      ["1", 480],
      ["B", 800],
    ]);
    const s = summarize(slices, "1");
    expect(s.slices).toBe(3);
    // 500 / mean(1000, 1000), 520 / mean(1000, 1200), 480 / mean(1200, 800)
    expect(s.ratio.median).toBeCloseTo(0.48);
    expect(s.ratio.min).toBeCloseTo(520 / 1100);
    expect(s.ratio.max).toBeCloseTo(0.5);
    expect(s.rps).toEqual({ median: 500, min: 480, max: 520, spread: 40 / 500 });
    expect(s.p50).toBe(4);
    expect(s.p99).toBe(13);
    expect(s.max).toBe(25);
    expect(s.requests).toBe(1500 * 3);
    expect(s.load1).toEqual({ min: 1.1, max: 1.5 });
    expect(s.stealPct).toEqual({ median: 3, max: 5 });
    expect(s.cpuMsPerRequest["api-1"]).toBeCloseTo((0.9 * 1000) / 4500);
  });

  it("when the baseline is summarized, then its spread is that of its own slices", () => {
    const s = summarize(
      slicesOf([
        ["B", 900],
        ["1", 10],
        ["B", 1000],
        ["1", 10],
        ["B", 1100],
      ]),
      "baseline",
    );
    expect(s.rps.median).toBe(1000);
    expect(s.ratio.min).toBeCloseTo(0.9);
    expect(s.ratio.max).toBeCloseTo(1.1);
    expect(s.ratio.spread).toBeCloseTo(0.2);
    expect(s.points).toEqual([]);
  });
});

describe("bench verdict", () => {
  const ratio = (min: number, median: number, max: number) => spreadOf([min, median, max]);

  it("when every slice's ratio reaches the target, then it is met", () => {
    expect(verdict(ratio(0.82, 0.85, 0.9), 0.8)).toBe("met");
    expect(verdict(ratio(0.8, 0.85, 0.9), 0.8)).toBe("met");
  });

  it("when the median clears the target but the lowest slice does not, then it is not met", () => {
    expect(verdict(ratio(0.78, 0.85, 0.9), 0.8)).toBe("straddles");
  });

  it("when no slice reaches the target, then it is missed", () => {
    expect(verdict(ratio(0.3, 0.33, 0.36), 0.65)).toBe("missed");
  });

  it("when the spread is over 20 %, then there is no verdict, whatever the target", () => {
    expect(verdict(ratio(0.9, 1, 1.21), 0.5)).toBe("noisy");
    expect(verdict(ratio(0.1, 0.11, 0.2), 0.65)).toBe("noisy");
    expect(verdict(ratio(0.9, 1, 1.21), null)).toBe("noisy");
    expect(verdict(spreadOf([]), 0.5)).toBe("noisy");
  });

  it("when the spread is exactly 20 %, then a verdict is given", () => {
    expect(verdict(ratio(0.9, 1, 1.1), 0.85)).toBe("met");
  });

  it("when a scenario has no target, then its verdict says so", () => {
    expect(verdict(ratio(0.2, 0.21, 0.22), null)).toBe("none");
  });
});
