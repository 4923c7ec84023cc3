import {
  foreignUse,
  parsePidStat,
  treeOf,
  type ProcessTable,
  type ProcessTimes,
} from "../../bench/foreign";
import { disturbedText } from "../../bench/report";

const table = (...ps: ProcessTimes[]): ProcessTable => new Map(ps.map(p => [p.pid, p]));
const proc = (pid: number, ppid: number, comm: string, cpuTicks: number): ProcessTimes => ({
  pid,
  ppid,
  comm,
  cpuTicks,
});

describe("bench: CPU other processes took during a slice", () => {
  it("when /proc/<pid>/stat names a command with spaces and parentheses, then pid, ppid, command and user+system ticks are read", () => {
    const line =
      "4242 (tsx (watch) x) S 4200 4242 4242 0 -1 4194304 9000 0 0 0 150 50 0 0 20 0 11 0 8000 1000000 30000 18446744073709551615";
    expect(parsePidStat(line)).toEqual({
      pid: 4242,
      ppid: 4200,
      comm: "tsx (watch) x",
      cpuTicks: 200,
    });
  });

  it("when a process tree is three levels deep, then the tree of its root holds all of it and nothing beside it", () => {
    const t = table(
      proc(10, 1, "node", 0),
      proc(11, 10, "node", 0),
      proc(12, 11, "node", 0),
      proc(20, 1, "jest", 0),
    );
    expect([...treeOf(t, 10)].sort()).toEqual([10, 11, 12]);
  });

  it("when the bench's tree, the servers, a kernel thread and a neighbour all ran, then only the neighbour counts, new processes whole", () => {
    const before = table(
      proc(10, 1, "node", 1000),
      proc(11, 10, "node", 500),
      proc(30, 1, "postgres", 100),
      proc(40, 2, "kworker/0:1", 10),
      proc(50, 1, "tsc", 1000),
    );
    const after = table(
      proc(10, 1, "node", 1300),
      proc(11, 10, "node", 900),
      proc(30, 1, "postgres", 400),
      proc(40, 2, "kworker/0:1", 60),
      proc(50, 1, "tsc", 1150),
      proc(51, 1, "jest", 90),
    );
    const use = foreignUse(before, after, 10, 3);
    // tsc 150 ticks + the new jest 90 ticks = 2.4 s of CPU over 3 s.
    expect(use.cores).toBe(0.8);
    expect(use.top.map(t => t.comm)).toEqual(["tsc", "jest"]);
  });

  it("when a pid was reused by another command, then the new process counts from zero", () => {
    const use = foreignUse(table(proc(60, 1, "make", 5000)), table(proc(60, 1, "gcc", 30)), 10, 1);
    expect(use.cores).toBe(0.3);
  });

  it("when slices were set aside, then the report says how many, for which scenarios and the worst neighbour", () => {
    const slice = { foreignCores: 0.9, id: "3" };
    const text = disturbedText({
      foreignMaxCores: 0.2,
      disturbedSlices: [slice, { ...slice, id: "baseline", foreignCores: 0.4 }].map(s => ({
        index: 0,
        kind: "scenario" as const,
        round: 1,
        startedAt: "",
        durationSec: 3,
        rps: 1,
        requests: 3,
        p50: 1,
        p99: 1,
        max: 1,
        errors: 0,
        load1: 0,
        busyPct: 0,
        stealPct: 0,
        cpuSeconds: {},
        drainedSec: 0,
        ...s,
      })),
    });
    expect(text).toBe(
      "2 slice(s) measured again because other processes over 0.2 of a core (up to 0.90 cores) ran beside them (3, baseline); the set-aside slices are in `disturbedSlices`.",
    );
    expect(disturbedText({ foreignMaxCores: 0.2, disturbedSlices: [] })).toBe(
      "No slice was measured again (other processes over 0.2 of a core: none).",
    );
  });
});
