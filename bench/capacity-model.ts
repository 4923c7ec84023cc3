/**
 * The capacity model of docs/capacity.md: from the bench's measured CPU per request on each
 * node (bench/results/latest.json `cpuMsPerRequest`, one node per service) and a stated
 * traffic model, the nodes of one core each that every service needs at peak.
 */

/** The kinds of request the traffic model counts, each measured by one bench scenario. */
export const MODELLED_SCENARIOS = [
  "login",
  "dashboard",
  "course",
  "courseLearner",
  "leaderboard",
  "attempt",
] as const;
export type ModelledScenario = (typeof MODELLED_SCENARIOS)[number];

/** Each modelled kind's scenario id in the bench's results (the keys of `cpuMsPerRequest`). */
export const BENCH_SCENARIO_IDS: Record<ModelledScenario, string> = {
  login: "5",
  dashboard: "3",
  course: "1",
  courseLearner: "1b",
  leaderboard: "2",
  attempt: "4",
};

export const CAPACITY_SERVICES = ["api", "users", "content", "progress", "notify"] as const;
export type CapacityService = (typeof CAPACITY_SERVICES)[number];

export interface TrafficModel {
  /** Sessions a daily active learner opens in a day. */
  sessionsPerLearner: number;
  /** Requests of each measured kind in one session. */
  perSession: Record<ModelledScenario, number>;
  /** Durable events one graded attempt publishes (each consumed by every consumer group). */
  eventsPerAttempt: number;
  /** Peak request rate over the day's average rate. */
  peakToAverage: number;
  /** Share of a core a node may use at peak (the rest is headroom; the HPAs aim at 70 %). */
  coreUtilization: number;
  /** Nodes per service at least, whatever the load (availability: one may be restarting). */
  minNodes: number;
}

/** The model docs/capacity.md states and `npm run capacity` uses. */
export const TRAFFIC_MODEL: TrafficModel = {
  sessionsPerLearner: 2,
  perSession: {
    login: 0.1,
    dashboard: 1,
    course: 1,
    courseLearner: 2,
    leaderboard: 1,
    attempt: 20,
  },
  eventsPerAttempt: 1,
  peakToAverage: 4,
  coreUtilization: 0.6,
  minNodes: 2,
};

export const DAILY_LEARNERS = [10_000, 100_000, 1_000_000] as const;

const SECONDS_PER_DAY = 86_400;

export interface CapacityRow {
  dailyLearners: number;
  peakRequestsPerSecond: number;
  peakAttemptsPerSecond: number;
  peakEventsPerSecond: number;
  /** Cores each service is busy at peak. */
  cores: Record<CapacityService, number>;
  /** Nodes of one core each per service at peak. */
  nodes: Record<CapacityService, number>;
}

export class CapacityInputError extends Error {}

/** Peak requests a second of each scenario for that many daily active learners. */
export function peakRates(
  dailyLearners: number,
  model: TrafficModel,
): Record<ModelledScenario, number> {
  const sessionsPerSecond = (dailyLearners * model.sessionsPerLearner) / SECONDS_PER_DAY;
  const rates = {} as Record<ModelledScenario, number>;
  for (const scenario of MODELLED_SCENARIOS)
    rates[scenario] = sessionsPerSecond * model.perSession[scenario] * model.peakToAverage;
  return rates;
}

/** CPU ms one request of the scenario costs on the service's (only) bench node. */
function cpuMs(
  cpuMsPerRequest: Record<string, Record<string, number>>,
  scenario: ModelledScenario,
  service: CapacityService,
): number {
  const id = BENCH_SCENARIO_IDS[scenario];
  const value = cpuMsPerRequest[id]?.[`${service}-1`];
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new CapacityInputError(
      `cpuMsPerRequest["${id}"]["${service}-1"] (${scenario}) is missing or not a CPU time: run \`npm run bench\` first`,
    );
  return value;
}

export function capacityRow(
  cpuMsPerRequest: Record<string, Record<string, number>>,
  dailyLearners: number,
  model: TrafficModel,
): CapacityRow {
  const rates = peakRates(dailyLearners, model);
  const cores = {} as Record<CapacityService, number>;
  const nodes = {} as Record<CapacityService, number>;
  for (const service of CAPACITY_SERVICES) {
    let busyMsPerSecond = 0;
    for (const scenario of MODELLED_SCENARIOS)
      busyMsPerSecond += rates[scenario] * cpuMs(cpuMsPerRequest, scenario, service);
    cores[service] = busyMsPerSecond / 1000;
    nodes[service] = Math.max(model.minNodes, Math.ceil(cores[service] / model.coreUtilization));
  }
  const peakRequestsPerSecond = MODELLED_SCENARIOS.reduce((sum, s) => sum + rates[s], 0);
  return {
    dailyLearners,
    peakRequestsPerSecond,
    peakAttemptsPerSecond: rates.attempt,
    peakEventsPerSecond: rates.attempt * model.eventsPerAttempt,
    cores,
    nodes,
  };
}

export function capacityTable(
  cpuMsPerRequest: Record<string, Record<string, number>>,
  model: TrafficModel = TRAFFIC_MODEL,
  dailyLearners: readonly number[] = DAILY_LEARNERS,
): CapacityRow[] {
  return dailyLearners.map(count => capacityRow(cpuMsPerRequest, count, model));
}

/** The table as Markdown: one row per learner count, nodes (cores busy) per service. */
export function formatCapacityTable(rows: CapacityRow[]): string {
  const header = `| daily learners | peak req/s | peak attempts/s | peak events/s | ${CAPACITY_SERVICES.join(" | ")} | nodes in all |`;
  const rule = `|${" --- |".repeat(5 + CAPACITY_SERVICES.length)}`;
  const lines = rows.map(row => {
    const perService = CAPACITY_SERVICES.map(
      service => `${row.nodes[service]} (${row.cores[service].toFixed(2)} cores)`,
    );
    const total = CAPACITY_SERVICES.reduce((sum, service) => sum + row.nodes[service], 0);
    return `| ${row.dailyLearners.toLocaleString("en-US")} | ${Math.round(row.peakRequestsPerSecond)} | ${Math.round(row.peakAttemptsPerSecond)} | ${Math.round(row.peakEventsPerSecond)} | ${perService.join(" | ")} | ${total} |`;
  });
  return [header, rule, ...lines].join("\n");
}
