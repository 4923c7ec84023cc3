import {
  cpuShares,
  isSettled,
  overBounds,
  quietNowRule,
  parseLoadavg,
  parseProcStat,
  SystemProbe,
  waitForSettle,
  type ProcReader,
  type SettleRule,
} from "../../bench/settle";

const stat = (user: number, idle: number, steal: number, guest = 0) =>
  `cpu  ${user} 0 ${user / 2} ${idle} 10 0 5 ${steal} ${guest} 0\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 1 2 3\n`;

describe("bench settle: reading /proc", () => {
  it("when /proc/loadavg is read, then the three averages and the runnable count come out", () => {
    expect(parseLoadavg("2.72 1.14 0.46 4/166 14060\n")).toEqual({
      load1: 2.72,
      load5: 1.14,
      load15: 0.46,
      running: 4,
    });
  });

  it("when /proc/loadavg is not what it should be, then the error says so", () => {
    expect(() => parseLoadavg("nope")).toThrow(/unreadable \/proc\/loadavg/);
  });

  it("when /proc/stat is read, then the aggregate line gives total, idle (with iowait) and steal, guest time not counted twice", () => {
    expect(parseProcStat(stat(1000, 4000, 25, 300))).toEqual({
      total: 1000 + 500 + 4000 + 10 + 5 + 25,
      idle: 4010,
      steal: 25,
    });
    expect(() => parseProcStat("intr 1 2\n")).toThrow(/no aggregate cpu line/);
  });

  it("when two reads of /proc/stat are compared, then busy and stolen shares are of the time between them", () => {
    const before = { total: 1000, idle: 600, steal: 0 };
    const after = { total: 1200, idle: 700, steal: 20 };
    const shares = cpuShares(before, after);
    expect(shares.busyPct).toBeCloseTo(40);
    expect(shares.stealPct).toBeCloseTo(10);
    expect(cpuShares(after, after)).toEqual({ busyPct: 0, stealPct: 0 });
  });
});

describe("bench settle: the rule", () => {
  const rule: SettleRule = { maxLoad1: 1, maxStealPct: 5, consecutive: 2 };
  const quiet = { load1: 0.4, busyPct: 90, stealPct: 1 };

  it("when a sample is over a bound, then that bound is named; busy is not checked unless asked", () => {
    expect(overBounds(quiet, rule)).toEqual([]);
    expect(overBounds({ load1: 3.2, busyPct: 90, stealPct: 7.5 }, rule)).toEqual([
      "load 3.20 > 1",
      "steal 7.5 % > 5 %",
    ]);
    expect(overBounds(quiet, { maxBusyPct: 30, consecutive: 1 })).toEqual(["CPU busy 90 % > 30 %"]);
  });

  it("when only the last sample is quiet but two in a row are required, then it is not settled yet", () => {
    const busy = { load1: 2, busyPct: 90, stealPct: 0 };
    expect(isSettled([busy, quiet], rule)).toBe(false);
    expect(isSettled([quiet], rule)).toBe(false);
    expect(isSettled([busy, quiet, quiet], rule)).toBe(true);
  });
});

/** /proc as a script: each read of stat advances by the next step, loadavg follows the list. */
function scriptedProc(steps: Array<{ load1: number; busy: number; steal: number }>): ProcReader {
  let reads = 0;
  let ticks = { busy: 0, idle: 0, steal: 0 };
  let current = steps[0];
  return {
    stat() {
      if (reads % 2 === 1) {
        current = steps[Math.min(steps.length - 1, (reads - 1) / 2)];
        ticks = {
          busy: ticks.busy + current.busy,
          idle: ticks.idle + (100 - current.busy - current.steal),
          steal: ticks.steal + current.steal,
        };
      }
      reads += 1;
      return `cpu  ${ticks.busy} 0 0 ${ticks.idle} 0 0 0 ${ticks.steal} 0 0\n`;
    },
    loadavg: () => `${current.load1} 0.5 0.5 1/100 1\n`,
  };
}

describe("bench settle: waiting", () => {
  const rule: SettleRule = { maxLoad1: 1, maxStealPct: 5, consecutive: 2 };
  const noSleep = () => Promise.resolve();
  /** The run's start rule (CPU busy ≤ 30 %, steal ≤ 5 %) over scripted samples, 2 s apart. */
  const startRuleWait = (steps: Parameters<typeof scriptedProc>[0], maxWaitMs: number) =>
    waitForSettle(
      quietNowRule(30, 5),
      maxWaitMs,
      2000,
      new SystemProbe(scriptedProc(steps)),
      noSleep,
    );

  it("when the machine calms down, then the wait ends at the second quiet sample and says settled", async () => {
    const proc = scriptedProc([
      { load1: 3, busy: 95, steal: 0 },
      { load1: 0.8, busy: 10, steal: 0 },
      { load1: 0.6, busy: 5, steal: 1 },
      { load1: 0.5, busy: 5, steal: 0 },
    ]);
    const outcome = await waitForSettle(rule, 60_000, 2000, new SystemProbe(proc), noSleep);
    expect(outcome.settled).toBe(true);
    expect(outcome.waitedSec).toBe(6);
    expect(outcome.samples.map(s => s.load1)).toEqual([3, 0.8, 0.6]);
    expect(outcome.last.stealPct).toBeCloseTo(1);
    expect(outcome.over).toEqual([]);
  });

  it("when the machine stays busy, then the wait stops at its bound and says what was over", async () => {
    const proc = scriptedProc([{ load1: 4.5, busy: 80, steal: 12 }]);
    const outcome = await waitForSettle(rule, 10_000, 2000, new SystemProbe(proc), noSleep);
    expect(outcome.settled).toBe(false);
    expect(outcome.waitedSec).toBe(10);
    expect(outcome.samples).toHaveLength(5);
    expect(outcome.over).toEqual(["load 4.50 > 1", "steal 12.0 % > 5 %"]);
  });

  it("when the machine is idle but its load average still remembers a build, then the start rule settles at the third quiet sample", async () => {
    const outcome = await startRuleWait(
      [
        { load1: 3.9, busy: 100, steal: 0 },
        { load1: 3.7, busy: 4, steal: 0 },
        { load1: 3.5, busy: 3, steal: 0 },
        { load1: 3.3, busy: 5, steal: 0.5 },
      ],
      60_000,
    );
    expect(outcome.settled).toBe(true);
    expect(outcome.waitedSec).toBe(8);
    expect(outcome.last.load1).toBe(3.3);
  });

  it("when outside work keeps the cores busy, then the start rule does not settle and names the busy share", async () => {
    const outcome = await startRuleWait([{ load1: 0.9, busy: 55, steal: 0 }], 10_000);
    expect(outcome.settled).toBe(false);
    expect(outcome.over).toEqual(["CPU busy 55 % > 30 %"]);
  });

  it("when it reads the real /proc, then the sample is a plausible one", async () => {
    const probe = new SystemProbe();
    const mark = probe.mark();
    await new Promise(r => setTimeout(r, 50));
    const sample = probe.sample(mark);
    expect(sample.load1).toBeGreaterThanOrEqual(0);
    expect(sample.busyPct).toBeGreaterThanOrEqual(0);
    expect(sample.busyPct + sample.stealPct).toBeLessThanOrEqual(100.0001);
  });
});
