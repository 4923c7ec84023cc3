import fs from "node:fs";
import path from "node:path";
import {
  BENCH_SCENARIO_IDS,
  CAPACITY_SERVICES,
  CapacityInputError,
  MODELLED_SCENARIOS,
  capacityRow,
  capacityTable,
  formatCapacityTable,
  type TrafficModel,
} from "../../bench/capacity-model";

/** CPU ms per request of every node in every scenario, with `attempt` costs set apart. */
function cpuTable(
  attempt: Partial<Record<string, number>>,
): Record<string, Record<string, number>> {
  const table: Record<string, Record<string, number>> = {};
  for (const scenario of MODELLED_SCENARIOS) {
    const id = BENCH_SCENARIO_IDS[scenario];
    table[id] = {};
    for (const service of CAPACITY_SERVICES)
      table[id][`${service}-1`] = scenario === "attempt" ? (attempt[service] ?? 0) : 0;
  }
  return table;
}

// One session a day of 864 attempts: a learner is exactly 0.01 attempts a second.
const attemptsOnly: TrafficModel = {
  sessionsPerLearner: 1,
  perSession: { login: 0, dashboard: 0, course: 0, courseLearner: 0, leaderboard: 0, attempt: 864 },
  eventsPerAttempt: 2,
  peakToAverage: 1,
  coreUtilization: 1,
  minNodes: 1,
};

describe("capacity model", () => {
  it("when 100 000 learners make 1 000 attempts/s at 2 ms CPU on progress, then progress needs 2 cores and 2 nodes", () => {
    const row = capacityRow(cpuTable({ progress: 2, api: 0.5 }), 100_000, attemptsOnly);
    expect(row.peakAttemptsPerSecond).toBeCloseTo(1000);
    expect(row.peakEventsPerSecond).toBeCloseTo(2000);
    expect(row.cores.progress).toBeCloseTo(2);
    expect(row.nodes.progress).toBe(2);
    expect(row.cores.api).toBeCloseTo(0.5);
    expect(row.nodes.api).toBe(1);
  });

  it("when the peak, the headroom and the minimum change, then the nodes follow them", () => {
    const row = capacityRow(cpuTable({ progress: 2 }), 100_000, {
      ...attemptsOnly,
      peakToAverage: 3,
      coreUtilization: 0.5,
      minNodes: 2,
    });
    expect(row.cores.progress).toBeCloseTo(6);
    expect(row.nodes.progress).toBe(12);
    expect(row.nodes.users).toBe(2);
  });

  it("when a scenario's CPU figure is missing, then it says which one and to run the bench", () => {
    const table = cpuTable({ progress: 2 });
    delete table[BENCH_SCENARIO_IDS.attempt]["notify-1"];
    expect(() => capacityRow(table, 1000, attemptsOnly)).toThrow(CapacityInputError);
    expect(() => capacityRow(table, 1000, attemptsOnly)).toThrow(
      `cpuMsPerRequest["4"]["notify-1"] (attempt) is missing`,
    );
  });

  it("when computed from the latest bench, then every learner count has a row, nodes never shrink with load and the table lists each service", () => {
    const latest = JSON.parse(
      fs.readFileSync(path.join(__dirname, "..", "..", "bench", "results", "latest.json"), "utf8"),
    ) as { cpuMsPerRequest: Record<string, Record<string, number>> };
    const rows = capacityTable(latest.cpuMsPerRequest);
    expect(rows.map(row => row.dailyLearners)).toEqual([10_000, 100_000, 1_000_000]);
    for (const service of CAPACITY_SERVICES) {
      expect(rows[0].nodes[service]).toBeGreaterThanOrEqual(2);
      expect(rows[1].nodes[service]).toBeGreaterThanOrEqual(rows[0].nodes[service]);
      expect(rows[2].nodes[service]).toBeGreaterThanOrEqual(rows[1].nodes[service]);
    }
    const text = formatCapacityTable(rows);
    expect(text.split("\n")).toHaveLength(5);
    for (const service of CAPACITY_SERVICES) expect(text.split("\n")[0]).toContain(` ${service} `);
    expect(text).toContain("| 1,000,000 |");
  });
});
