import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { verify } from "@node-rs/argon2";
import amqp from "amqplib";
import Redis from "ioredis";
import { ServiceBroker } from "moleculer";
import { loadConfig, type AppConfig, type ServiceName } from "../lib/config";
import { topologyNames } from "../lib/events/amqp-transport";
import { brokerOptions } from "../moleculer.config";
import { hashPassword } from "../services/users/passwords";
import { createTestDatabase, testKeyPair, uniqueName } from "../test/support/isolation";
import { requireServers, SERVERS } from "../test/support/servers";
import { freePort, ROOT, waitForOutput } from "../test/support/node-process";
import {
  allNodes,
  BASELINE_NODE,
  cpuSeconds,
  killAllNow,
  liveNodes,
  NODE_FLAGS,
  noteAtRest,
  prepareNodes,
  removeBuild,
  RssSampler,
  rssNow,
  RUNTIME,
  spawnNode,
  stopAll,
  waitReady,
  type BenchNode,
} from "./cluster";
import { LoadWorker, type LoadSpec } from "./load";
import {
  writeResults,
  markdown,
  nodeRss,
  rssTable,
  rssTargetRows,
  settleText,
  type BenchResults,
  type ScenarioFigure,
  type SettleReport,
} from "./report";
import { foreignUse, readProcesses } from "./foreign";
import {
  quietNowRule,
  SystemProbe,
  waitForSettle,
  type SettleOutcome,
  type SettleRule,
} from "./settle";
import {
  interleave,
  MAX_SPREAD,
  median,
  roundFits,
  summarize,
  verdict,
  type MeasuredSlice,
  type ScenarioSummary,
} from "./slices";
import { DEFAULT_RETRY, deleteAmqpTopology } from "./amqp-cleanup";
import {
  adminToken,
  eventCounts,
  fillOutbox,
  LEARNER_PASSWORD,
  learnerEmails,
  learnerTokens,
  rebuildLeaderboards,
  seedAnalyticsCourse,
  seedDatabase,
  seedLearningReads,
  seedSessions,
  starterCourseIds,
  starterQuizzes,
  type Learner,
} from "./seed";

/**
 * `npm run bench`: a real multi-process cluster on loopback (one process per service,
 * the gateway on its own, over NATS, Redis, RabbitMQ and PostgreSQL), seeded with
 * realistic data, loaded by autocannon from a separate process, every figure printed
 * next to a baseline measured in the same run — interleaved with the scenarios: rounds of
 * short slices, a baseline slice between every two scenario slices, each scenario slice
 * divided by the baseline slices around it, median and spread over the rounds (see
 * bench/slices.ts). It waits for the machine to settle first (bench/settle.ts). Fresh
 * database, namespace and key prefix; every process it starts is killed at the end, also
 * on failure or Ctrl-C.
 *
 * Tunables (env): BENCH_SLICE (s per slice, default 2), BENCH_ROUNDS (5), BENCH_WARMUP (s
 * per scenario before its first slice, 2), BENCH_CONNECTIONS (50), BENCH_LEARNERS (10000),
 * BENCH_ATTEMPTS (100000), BENCH_EVENTS (100000), BENCH_SETTLE_MAX (s, 60),
 * BENCH_SETTLE_BUSY (% of the machine's CPU busy before the cluster starts, 30),
 * BENCH_SETTLE_STEAL (%, 5),
 * BENCH_FOREIGN_CORES (cores other processes may use during a slice before it is measured
 * again, 0.2);
 * BENCH_QUICK=1 (a short trial: 1.5 s slices, 2 rounds, smaller seed, results written to the
 * temporary directory, not bench/results); BENCH_SCENARIOS (comma-separated ids among
 * 1,1b,2,3,4,5,6,9,10,11,12: a partial trial run, interleaved with the baseline as well, that prints
 * its figures and CPU per request per node but writes no results files (12 runs after the
 * others, once the revocations are recorded: name 1b with it to compare); 8 adds a course
 * with BENCH_ANALYTICS_LEARNERS (10000) learners to the analytics read model and measures
 * GET /courses/:id/analytics (8) and GET /admin/analytics (8b), partial runs only);
 * BENCH_RUNTIME=tsx (the nodes from their sources through tsx, as `npm start`, instead of the
 * compiled build the run makes first, as the Dockerfile runs them).
 */

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const QUICK = process.env.BENCH_QUICK === "1";
const SLICE = num("BENCH_SLICE", QUICK ? 1.5 : 2);
const ROUNDS = Math.round(num("BENCH_ROUNDS", QUICK ? 2 : 5));
const WARMUP = num("BENCH_WARMUP", QUICK ? 1 : 2);
const CONNECTIONS = num("BENCH_CONNECTIONS", 50);
const LEARNERS = num("BENCH_LEARNERS", QUICK ? 2000 : 10_000);
const ATTEMPTS = num("BENCH_ATTEMPTS", QUICK ? 20_000 : 100_000);
const EVENTS = num("BENCH_EVENTS", QUICK ? 10_000 : 100_000);
/** Scenario 12: sessions ended through the users service before its slices. */
const REVOKED_SESSIONS = num("BENCH_REVOKED_SESSIONS", QUICK ? 2000 : 10_000);
/** Scenario 8's course (BENCH_SCENARIOS=8): its learners, in the analytics read model. */
const ANALYTICS_LEARNERS = num("BENCH_ANALYTICS_LEARNERS", 10_000);
const CORES = os.availableParallelism();
/** Outside load: the machine's CPU busy and stolen shares now, before the cluster starts. */
const SETTLE_AT_START: SettleRule = quietNowRule(
  num("BENCH_SETTLE_BUSY", 30),
  num("BENCH_SETTLE_STEAL", 5),
);
/**
 * Once seeded, the cluster's own after-work (PostgreSQL's analyze and autovacuum, the
 * relay): CPU busy now, not the load average, which still remembers the seeding for minutes.
 */
const SETTLE_BEFORE_MEASURING: SettleRule = {
  maxBusyPct: 30,
  maxStealPct: SETTLE_AT_START.maxStealPct,
  consecutive: 2,
};
const SETTLE_MAX_MS = num("BENCH_SETTLE_MAX", QUICK ? 10 : 60) * 1000;
/**
 * After a slice, until the nodes are idle: requests still in flight when the load stops
 * (50 logins take seconds of hashing) and the events an attempt emits would otherwise be
 * served during the next slice — the baseline after a login slice read half its rate.
 */
const DRAIN_MAX_MS = 5000;
const DRAIN_WINDOW_MS = 250;
/** Cores' worth of CPU all nodes together may still use and count as idle (relay polls, metrics). */
const DRAIN_IDLE_CORES = 0.15;
/**
 * A slice during which processes outside the bench and its servers used more than this
 * (bench/foreign.ts) is set aside and measured again, at most MAX_REMEASURES times: a
 * neighbour's burst would otherwise move that slice's ratio by its own weight.
 */
const FOREIGN_MAX_CORES = num("BENCH_FOREIGN_CORES", 0.2);
const MAX_REMEASURES = 2;
/** Per slice beyond its duration: the drain, the job's IPC, autocannon opening its connections. */
const SLICE_OVERHEAD_MS = 1000;
/** Fewer rounds than this and a spread means little; the time bound never cuts below it. */
const MIN_ROUNDS = Math.min(3, ROUNDS);
const TOKENS = 1000;
const ONLY = process.env.BENCH_SCENARIOS?.split(",")
  .map(id => id.trim())
  .filter(Boolean);
/** Whether scenario `id` runs in this trial (every scenario unless BENCH_SCENARIOS narrows it). */
const wanted = (id: string) => !ONLY || ONLY.length === 0 || ONLY.includes(id);
const TOTAL_BUDGET_MS = 10 * 60_000;
/** Where each phase's rounds must end (from the start of the run), so that the rest still fits. */
const SCENARIOS_END_MS = 6.4 * 60_000;
const HORIZONTAL_END_MS = 7.9 * 60_000;
const REVOCATIONS_END_MS = 8.7 * 60_000;
const EVENTS_END_MS = 9.4 * 60_000;
const EVENTS_BUDGET_MS = 200_000;

const TARGETS = {
  course: 0.8,
  leaderboard: 0.65,
  dashboard: 0.25,
  attempt: 0.2,
  login: 0.8,
  readP99: 30,
  events: 5000,
};

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));
const log = (line: string) =>
  console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`);

function version(pkg: string): string {
  try {
    const file = path.join(ROOT, "node_modules", pkg, "package.json");
    return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version;
  } catch {
    return "?";
  }
}

interface Cluster {
  namespace: string;
  env: Record<string, string>;
  cfg: AppConfig;
  apiOrigin: string;
  baselineOrigin: string;
  serviceNodes: BenchNode[];
}

async function startServiceNode(
  name: string,
  services: ServiceName[],
  env: Record<string, string>,
  extra: Record<string, string> = {},
): Promise<BenchNode> {
  const metricsPort = await freePort();
  const node = spawnNode(
    name,
    services.join("+"),
    "server.ts",
    {
      ...env,
      ...extra,
      SERVICES: services.join(","),
      NODE_ID: name,
      METRICS_PORT: String(metricsPort),
    },
    metricsPort,
  );
  await waitReady(node, `http://127.0.0.1:${metricsPort}/health/ready`);
  noteAtRest(node);
  return node;
}

type ScenarioSpec = Omit<LoadSpec, "durationSec" | "connections">;

interface Plan {
  id: string;
  label: string;
  spec: ScenarioSpec;
}

/**
 * Runs the slices of the whole run, one at a time, through one load process, and keeps
 * each slice's figures: req/s and latency, the CPU every node spent, the load average at
 * its end and the CPU busy and stolen during it.
 */
class SliceRunner {
  readonly slices: MeasuredSlice[] = [];
  /** Slices measured while a neighbour used more than FOREIGN_MAX_CORES, then measured again. */
  readonly disturbed: MeasuredSlice[] = [];
  private readonly worker = new LoadWorker();
  private readonly probe = new SystemProbe();

  /**
   * The figure a scenario is divided by instead of the baseline (login: the raw Argon2id rate),
   * measured right after each of its slices so both see the same weather; one pair per slice.
   */
  readonly paired: Array<{ round: number; scenarioRps: number; rate: number }> = [];

  constructor(
    private readonly baseline: ScenarioSpec,
    private readonly pairedRate?: { id: string; measure: () => Promise<number> },
  ) {}

  private async slice(
    kind: MeasuredSlice["kind"],
    id: string,
    round: number,
    spec: ScenarioSpec,
    seconds: number,
  ): Promise<MeasuredSlice> {
    const cpuBefore = new Map(liveNodes().map(n => [n.name, cpuSeconds(n.pid) ?? 0]));
    const processesBefore = readProcesses();
    const mark = this.probe.mark();
    const startedAt = new Date().toISOString();
    const result = await this.worker.run({
      ...spec,
      connections: CONNECTIONS,
      durationSec: seconds,
    });
    const system = this.probe.sample(mark);
    const foreign = foreignUse(processesBefore, readProcesses(), process.pid, seconds);
    if (foreign.cores > FOREIGN_MAX_CORES) {
      const top = foreign.top.map(t => `${t.comm} ${t.cores.toFixed(2)}`).join(", ");
      log(`${id} slice: other processes used ${foreign.cores.toFixed(2)} cores (${top})`);
    }
    const cpu: Record<string, number> = {};
    for (const node of liveNodes()) {
      const start = cpuBefore.get(node.name);
      const now = cpuSeconds(node.pid);
      if (start !== undefined && now !== undefined)
        cpu[node.name] = Number((now - start).toFixed(3));
    }
    if (result.errors > 0)
      log(`${id} slice: ${result.errors} errors ${JSON.stringify(result.statusCodes)}`);
    const drainedSec = await this.drain();
    return {
      index: this.slices.length,
      kind,
      id,
      round,
      startedAt,
      durationSec: seconds,
      rps: Number(result.rps.toFixed(1)),
      requests: result.requests,
      p50: result.p50,
      p99: result.p99,
      max: result.max,
      errors: result.errors,
      load1: system.load1,
      busyPct: Number(system.busyPct.toFixed(1)),
      stealPct: Number(system.stealPct.toFixed(2)),
      cpuSeconds: cpu,
      drainedSec,
      foreignCores: foreign.cores,
    };
  }

  /** Waits until every node together is under DRAIN_IDLE_CORES (at most DRAIN_MAX_MS); the seconds it took. */
  private async drain(): Promise<number> {
    const started = Date.now();
    const total = () => liveNodes().reduce((sum, n) => sum + (cpuSeconds(n.pid) ?? 0), 0);
    while (Date.now() - started < DRAIN_MAX_MS) {
      const before = total();
      const windowStart = Date.now();
      await sleep(DRAIN_WINDOW_MS);
      const cores = (total() - before) / ((Date.now() - windowStart) / 1000);
      if (cores <= DRAIN_IDLE_CORES) break;
    }
    return Number(((Date.now() - started) / 1000).toFixed(2));
  }

  /** Unrecorded load of each scenario (and the baseline) first: JIT, caches, pools. Returns requests per id. */
  async warmUp(plans: Plan[]): Promise<Record<string, number>> {
    const requests: Record<string, number> = {};
    for (const plan of [{ id: "baseline", label: "baseline", spec: this.baseline }, ...plans]) {
      const s = await this.slice("scenario", plan.id, -1, plan.spec, WARMUP);
      requests[plan.id] = s.requests;
    }
    log(`warmed up ${["baseline", ...plans.map(p => p.id)].join(", ")} (${WARMUP} s each)`);
    return requests;
  }

  /**
   * Rounds of `plans` interleaved with the baseline (bench/slices.ts `interleave`); a round
   * past the first MIN_ROUNDS starts only if it ends by `deadline`.
   */
  async rounds(plans: Plan[], deadline: number): Promise<void> {
    const ids = plans.map(p => p.id);
    const specs = new Map(plans.map(p => [p.id, p.spec]));
    let round = 0;
    for (const planned of interleave(ids, ROUNDS)) {
      if (planned.kind === "scenario" && planned.round !== round) {
        log(`round ${planned.round} of ${ROUNDS} (${ids.join(", ")}) done`);
        round = planned.round;
        const sliceMs = SLICE * 1000;
        if (
          !roundFits(
            round,
            MIN_ROUNDS,
            Date.now(),
            deadline,
            ids.length * 2,
            sliceMs,
            SLICE_OVERHEAD_MS,
          )
        ) {
          log(`time bound: stopping after ${round} rounds (of ${ROUNDS})`);
          return;
        }
      }
      const [kind, id] =
        planned.kind === "baseline"
          ? (["baseline", "baseline"] as const)
          : (["scenario", planned.id] as const);
      const spec = specs.get(id) ?? this.baseline;
      const slice = await this.undisturbedSlice(kind, id, round, spec);
      this.slices.push(slice);
      if (kind === "scenario" && this.pairedRate?.id === id) {
        this.paired.push({ round, scenarioRps: slice.rps, rate: await this.pairedRate.measure() });
      }
    }
    log(`round ${ROUNDS} of ${ROUNDS} (${ids.join(", ")}) done`);
  }

  /** A slice, measured again (at most MAX_REMEASURES times) while a neighbour took too much CPU. */
  private async undisturbedSlice(
    kind: MeasuredSlice["kind"],
    id: string,
    round: number,
    spec: ScenarioSpec,
  ): Promise<MeasuredSlice> {
    let slice = await this.slice(kind, id, round, spec, SLICE);
    for (
      let again = 0;
      again < MAX_REMEASURES && slice.foreignCores > FOREIGN_MAX_CORES;
      again += 1
    ) {
      this.disturbed.push(slice);
      slice = await this.slice(kind, id, round, spec, SLICE);
    }
    return slice;
  }

  stop(): void {
    this.worker.stop();
  }
}

function settleReport(rule: SettleRule, outcome: SettleOutcome): SettleReport {
  const bounds = [
    rule.maxLoad1 !== undefined ? `load ≤ ${rule.maxLoad1}` : undefined,
    rule.maxBusyPct !== undefined ? `CPU busy ≤ ${rule.maxBusyPct} %` : undefined,
    rule.maxStealPct !== undefined ? `steal ≤ ${rule.maxStealPct} %` : undefined,
  ].filter(Boolean);
  return {
    rule: `${bounds.join(", ")}, ${rule.consecutive} samples in a row`,
    settled: outcome.settled,
    waitedSec: outcome.waitedSec,
    load1: outcome.last.load1,
    busyPct: Number(outcome.last.busyPct.toFixed(1)),
    stealPct: Number(outcome.last.stealPct.toFixed(2)),
    over: outcome.over,
  };
}

async function settle(
  what: string,
  rule: SettleRule,
  intervalMs: number,
  maxWaitMs: number,
): Promise<SettleReport> {
  const report = settleReport(rule, await waitForSettle(rule, maxWaitMs, intervalMs));
  log(settleText(what, report).replace(/\*\*/g, ""));
  return report;
}

/** One line per scenario as the rounds give it: the figures the table prints. */
function logSummary(label: string, s: ScenarioSummary): void {
  const r = s.ratio;
  log(
    `${label}: ${Math.round(s.rps.median)} req/s (${Math.round(s.rps.min)}–${Math.round(s.rps.max)}), p50 ${s.p50} ms, p99 ${s.p99} ms, errors ${s.errors}; ` +
      `× baseline ${r.median.toFixed(3)} (${r.min.toFixed(3)}–${r.max.toFixed(3)}, spread ${(r.spread * 100).toFixed(0)} %); ` +
      `load ${s.load1.min.toFixed(1)}–${s.load1.max.toFixed(1)}, steal ${s.stealPct.median.toFixed(1)} % (max ${s.stealPct.max.toFixed(1)})`,
  );
}

/**
 * The raw Argon2id rate login is divided by: the median of `measurements` measurements of
 * `seconds`, each measured again (at most MAX_REMEASURES times) while a neighbour took more
 * than FOREIGN_MAX_CORES — one measurement next to a neighbour's build read half the rate.
 */
async function undisturbedHashRate(phc: string, measurements = 3, seconds = 2): Promise<number> {
  const rates: number[] = [];
  for (let i = 0; i < measurements; i += 1) {
    for (let attempt = 0; ; attempt += 1) {
      const before = readProcesses();
      const rate = await hashRate(phc, seconds);
      const foreign = foreignUse(before, readProcesses(), process.pid, seconds);
      if (foreign.cores <= FOREIGN_MAX_CORES || attempt === MAX_REMEASURES) {
        rates.push(rate);
        break;
      }
      log(`raw hash rate: other processes used ${foreign.cores.toFixed(2)} cores, measuring again`);
    }
  }
  return median(rates);
}

/**
 * The seed writes learners' rows, not the events a live system would have consumed, so no
 * learner has a home summary yet; one dashboard each builds it, as their first visit would.
 * Scenario 3 then measures the dashboard of learners who have been here before.
 */
async function buildHomeSummaries(url: string, headers: Array<Record<string, string>>) {
  let next = 0;
  const worker = async () => {
    while (next < headers.length) {
      const res = await fetch(url, {
        headers: headers[next++],
        signal: AbortSignal.timeout(10_000),
      });
      await res.arrayBuffer();
      if (res.status !== 200)
        throw new Error(`home summary seed: GET /me/dashboard answered ${res.status}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** Raw Argon2id verifications per second, the users service's parameters, 4 libuv threads (its default). */
async function hashRate(phc: string, seconds: number): Promise<number> {
  const deadline = Date.now() + seconds * 1000;
  let done = 0;
  const worker = async () => {
    while (Date.now() < deadline) {
      if (!(await verify(phc, LEARNER_PASSWORD))) throw new Error("hash rate: wrong password?");
      done += 1;
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: 8 }, worker));
  return done / ((Date.now() - started) / 1000);
}

async function expectStatus(
  url: string,
  init: RequestInit,
  status: number,
  what: string,
): Promise<unknown> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  if (res.status !== status)
    throw new Error(`${what}: expected ${status}, got ${res.status}: ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Waits until the runner's registry lists `count` available nodes for each service. */
async function waitForNodes(runner: ServiceBroker, services: string[], count: number) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const list = runner.registry.getServiceList({ onlyAvailable: true }) as Array<{ name: string }>;
    if (services.every(s => list.filter(item => item.name === s).length >= count)) return;
    await sleep(200);
  }
  throw new Error(`services ${services.join(", ")} did not reach ${count} nodes`);
}

/** Messages waiting in a consumer group's queues (main + retry + dead-letter) once its consumers are gone. */
async function queued(namespace: string, service: string): Promise<number> {
  const connection = await amqp.connect(SERVERS.rabbitmq.url, { timeout: 5000 });
  try {
    const names = topologyNames(namespace, service, DEFAULT_RETRY);
    let total = 0;
    for (const queue of [names.queue, ...names.retryQueues, names.dlq]) {
      const channel = await connection.createChannel();
      channel.on("error", () => undefined);
      total += await channel.checkQueue(queue).then(
        q => q.messageCount,
        () => 0,
      );
      await channel.close().catch(() => undefined);
    }
    return total;
  } finally {
    await connection.close().catch(() => undefined);
  }
}

async function cleanRedis(prefix: string): Promise<void> {
  const redis = new Redis(SERVERS.redis.url, { maxRetriesPerRequest: 1 });
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

function figure(
  id: string,
  name: string,
  s: ScenarioSummary,
  target: number | null,
  note?: string,
): ScenarioFigure {
  const judged = verdict(s.ratio, target);
  const round3 = (n: number) => Number(n.toFixed(3));
  return {
    id,
    name,
    rps: Math.round(s.rps.median),
    rpsMin: Math.round(s.rps.min),
    rpsMax: Math.round(s.rps.max),
    p50: s.p50,
    p99: s.p99,
    max: s.max,
    errors: s.errors,
    ratio: round3(s.ratio.median),
    ratioMin: round3(s.ratio.min),
    ratioMax: round3(s.ratio.max),
    spread: round3(s.ratio.spread),
    target,
    verdict: judged,
    met: target === null ? null : judged === "met",
    requests: s.requests,
    slices: s.slices,
    load1: s.load1,
    stealPct: s.stealPct,
    busyPct: s.busyPct,
    points: s.points.map(p => ({
      ...p,
      baselineRps: Number(p.baselineRps.toFixed(1)),
      ratio: Number(p.ratio.toFixed(4)),
    })),
    ...(note ? { note } : {}),
  };
}

/**
 * What a second node would give with a core of its own: each node's measured CPU per
 * request caps its throughput at 1 core / (CPU per request); the scaled service's cap
 * doubles with two nodes; the cluster's is the smallest cap.
 */
function projectOneCorePerNode(cpuMsPerRequest: Record<string, number>, scaled: string): number {
  let cap = Number.POSITIVE_INFINITY;
  for (const [node, ms] of Object.entries(cpuMsPerRequest)) {
    if (node.startsWith("baseline") || ms <= 0.001) continue;
    const cores = node.startsWith(scaled) ? 2 : 1;
    cap = Math.min(cap, (cores * 1000) / ms);
  }
  return cap;
}

async function main(): Promise<void> {
  const startedAt = Date.now();
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  // Before the settle check, which then waits out the compiler's CPU.
  if (RUNTIME === "compiled") log("building the nodes (npm run build, into a temporary directory)");
  prepareNodes();
  const loadAverageAtStart = os.loadavg();
  const atStart = await settle("settle check at start", SETTLE_AT_START, 2000, SETTLE_MAX_MS);
  const namespace = uniqueName("bench").toLowerCase();
  const prefix = `${namespace}:`;
  const db = await createTestDatabase("lm_bench");
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-bench-"));
  const sampler = new RssSampler();
  let runner: ServiceBroker | undefined;
  let slicer: SliceRunner | undefined;
  const cleanup = async () => {
    sampler.stop();
    slicer?.stop();
    // The nodes' last output (warnings and errors only, LOG_LEVEL=warn), kept for a look afterwards.
    const logDir = path.join(os.tmpdir(), "lingomesh-bench-logs");
    fs.mkdirSync(logDir, { recursive: true });
    for (const node of liveNodes())
      fs.writeFileSync(path.join(logDir, `${node.name}.log`), node.output());
    await runner?.stop().catch(() => undefined);
    await stopAll();
    await db.drop().catch(err => log(`database not dropped: ${(err as Error).message}`));
    await cleanRedis(prefix).catch(err => log(`redis keys not removed: ${(err as Error).message}`));
    await deleteAmqpTopology(namespace).catch(err =>
      log(`amqp topology not removed: ${(err as Error).message}`),
    );
    fs.rmSync(dataDir, { recursive: true, force: true });
    removeBuild();
  };
  const budget = setTimeout(() => {
    log(`time budget of ${TOTAL_BUDGET_MS / 60_000} min exceeded: stopping`);
    killAllNow();
    void cleanup().finally(() => process.exit(2));
  }, TOTAL_BUDGET_MS);
  budget.unref();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping every bench process`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  process.once("exit", killAllNow);

  try {
    const keys = testKeyPair();
    const apiPort = await freePort();
    const baselinePort = await freePort();
    const apiOrigin = `http://127.0.0.1:${apiPort}`;
    const env: Record<string, string> = {
      NAMESPACE: namespace,
      TRANSPORTER: SERVERS.nats.url,
      CACHER: SERVERS.redis.url,
      REDIS_URL: SERVERS.redis.url,
      REDIS_PREFIX: prefix,
      DATABASE_URL: db.url,
      AMQP_URL: SERVERS.rabbitmq.url,
      JWT_PRIVATE_KEY: keys.privateKey,
      JWT_PUBLIC_KEY: keys.publicKey,
      PUBLIC_URL: apiOrigin,
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      LOG_FORMAT: "json",
      RATE_LIMIT_RPM: "1000000",
      LOGIN_FAILURES_MAX: "1000",
      ADMIN_EMAIL: "bench-admin@example.com",
      ADMIN_PASSWORD: crypto.randomBytes(18).toString("base64url"),
    };

    log(`namespace ${namespace}, database ${db.name}; starting the cluster`);
    const serviceNodes = await Promise.all([
      startServiceNode("api-1", ["api"], env, { PORT: String(apiPort) }),
      startServiceNode("users-1", ["users"], env),
      startServiceNode("content-1", ["content"], env),
      startServiceNode("progress-1", ["progress"], env),
      startServiceNode("notify-1", ["notify"], env),
    ]);
    await waitReady(serviceNodes[0], `${apiOrigin}/health/ready`);
    const baselineNodes = [
      spawnNode("baseline-echo", "baseline-echo", BASELINE_NODE, {
        NAMESPACE: `${namespace}_baseline`,
        TRANSPORTER: SERVERS.nats.url,
        BASELINE_ROLE: "echo",
      }),
      spawnNode("baseline-gateway", "baseline-gateway", BASELINE_NODE, {
        NAMESPACE: `${namespace}_baseline`,
        TRANSPORTER: SERVERS.nats.url,
        BASELINE_ROLE: "gateway",
        PORT: String(baselinePort),
      }),
    ];
    await Promise.all(baselineNodes.map(node => waitForOutput(node, "READY", node.name)));
    baselineNodes.forEach(noteAtRest);
    const cluster: Cluster = {
      namespace,
      env,
      cfg: loadConfig({ ...env, SERVICES: "", METRICS_PORT: "0" }),
      apiOrigin,
      baselineOrigin: `http://127.0.0.1:${baselinePort}`,
      serviceNodes,
    };
    sampler.start();

    // A node with no services (as `npm run repl`) for the internal calls of the setup.
    runner = new ServiceBroker({
      ...brokerOptions(cluster.cfg),
      nodeID: `bench-runner-${process.pid}`,
    });
    await runner.start();
    await runner.waitForServices(["api", "users", "content", "progress", "notify"], 30_000);

    log("seeding: starter courses, learners, attempts, leaderboards");
    await runner.call("content.seedStarter");
    const seeded = await seedDatabase(db.url, LEARNERS, ATTEMPTS);
    const boards = await rebuildLeaderboards(db.url, SERVERS.redis.url, prefix);
    log(
      `seeded ${seeded.learners} learners, ${seeded.attempts} attempts (${seeded.passed} passed, ${seeded.xpTotal} XP) in ${seeded.seconds.toFixed(1)} s; boards: weekly ${boards.weekly}, all-time ${boards.allTime}`,
    );
    const learningReads = await seedLearningReads(db.url);
    log(
      `seeded ${learningReads.skillRatings} skill ratings, ${learningReads.placements} placement tests, ${learningReads.certificates} certificates`,
    );
    const learners: Learner[] = await learnerTokens(db.url, cluster.cfg, TOKENS);
    const emails = await learnerEmails(db.url, 5000);
    const [courseId] = starterCourseIds();
    const [quiz] = starterQuizzes();
    const api = `${apiOrigin}/api/v1`;
    const auth = learners.map(l => ({ authorization: `Bearer ${l.token}` }));

    // Smoke: every scenario answers as expected before it is loaded.
    await expectStatus(`${api}/courses/${courseId}`, {}, 200, "course read");
    await expectStatus(
      `${api}/leaderboard?period=weekly`,
      { headers: auth[0] },
      200,
      "leaderboard",
    );
    const dash = (await expectStatus(
      `${api}/me/dashboard`,
      { headers: auth[0] },
      200,
      "dashboard",
    )) as {
      degraded: string[];
    };
    if (dash.degraded.length > 0)
      log(`warning: dashboard degraded parts at smoke: ${dash.degraded}`);
    const next = (await expectStatus(
      `${api}/me/next`,
      { headers: auth[0] },
      200,
      "what next",
    )) as unknown[];
    const skills = (await expectStatus(
      `${api}/me/skills`,
      { headers: auth[0] },
      200,
      "skills",
    )) as unknown[];
    if (next.length === 0 || skills.length === 0)
      log(`warning: ${next.length} next steps and ${skills.length} skills at smoke`);
    const certificateUrl = `${api}/certificates/${learningReads.certificateId}`;
    await expectStatus(certificateUrl, {}, 200, "certificate verification");
    const answerSheet = (wrong: number) =>
      JSON.stringify({
        answers: quiz.questions.map((q, i) => ({
          questionId: q.id,
          value: i < wrong ? (Array.isArray(q.answer) ? [] : "no idea") : q.answer,
        })),
      });
    const json = { "content-type": "application/json" };
    await expectStatus(
      `${api}/lessons/${quiz.lessonId}/attempts`,
      { method: "POST", headers: { ...auth[0], ...json }, body: answerSheet(0) },
      201,
      "attempt",
    );
    await expectStatus(
      `${api}/auth/login`,
      {
        method: "POST",
        headers: json,
        body: JSON.stringify({ email: emails[0], password: LEARNER_PASSWORD }),
      },
      200,
      "login",
    );

    const sheets = [0, 0, 1, 0, 3].map(answerSheet);
    const attemptSpec: ScenarioSpec = {
      url: `${api}/lessons/${quiz.lessonId}/attempts`,
      method: "POST",
      headers: json,
      rotateHeaders: auth,
      rotateBodies: sheets,
    };
    const plans: Plan[] = [
      { id: "1", label: "1 course (anonymous)", spec: { url: `${api}/courses/${courseId}` } },
      {
        id: "1b",
        label: "1b course (learner)",
        spec: { url: `${api}/courses/${courseId}`, rotateHeaders: auth },
      },
      {
        id: "2",
        label: "2 leaderboard",
        spec: { url: `${api}/leaderboard?period=weekly`, rotateHeaders: auth },
      },
      { id: "3", label: "3 dashboard", spec: { url: `${api}/me/dashboard`, rotateHeaders: auth } },
      { id: "4", label: "4 attempt", spec: attemptSpec },
      { id: "9", label: "9 what next", spec: { url: `${api}/me/next`, rotateHeaders: auth } },
      { id: "10", label: "10 skills", spec: { url: `${api}/me/skills`, rotateHeaders: auth } },
      { id: "11", label: "11 certificate (anonymous)", spec: { url: certificateUrl } },
      {
        id: "5",
        label: "5 login",
        spec: {
          url: `${api}/auth/login`,
          method: "POST",
          headers: json,
          rotateBodies: emails.map(email => JSON.stringify({ email, password: LEARNER_PASSWORD })),
        },
      },
    ];
    if (wanted("3")) {
      const started = Date.now();
      await buildHomeSummaries(`${api}/me/dashboard`, auth);
      log(
        `seeded ${auth.length} learners' home summaries in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }
    const phc = await hashPassword(LEARNER_PASSWORD);
    // 12: scenario 1b's read once the gateway holds REVOKED_SESSIONS live revocations.
    const setupBroker = runner;
    const revocations: RevocationPhase = {
      plan: { id: "12", label: "12 course (learner), revocations held", spec: plans[1].spec },
      record: () => recordRevocations(setupBroker, db.url),
    };
    slicer = new SliceRunner(
      { url: `${cluster.baselineOrigin}/echo` },
      { id: "5", measure: () => undisturbedHashRate(phc, 1, SLICE) },
    );
    const beforeMeasuring = await settle(
      "settle check before the first slice",
      SETTLE_BEFORE_MEASURING,
      1000,
      // Half the bound: outside load was waited for already; this is the seeding's after-work.
      SETTLE_MAX_MS / 2,
    );

    if (wanted("8") && ONLY && ONLY.length > 0) {
      // 8: the analytics of a course with ANALYTICS_LEARNERS learners, from the read model.
      const quizzesSeeded = await seedAnalyticsCourse(db.url, ANALYTICS_LEARNERS);
      const rebuildStarted = Date.now();
      const rebuilt = await runner.call("progress.rebuildAnalytics", {}, { timeout: 600_000 });
      log(
        `8 seeded ${ANALYTICS_LEARNERS} learners × ${quizzesSeeded} quizzes of course ${courseId}; read model rebuilt from the tables in ${((Date.now() - rebuildStarted) / 1000).toFixed(1)} s: ${JSON.stringify(rebuilt)}`,
      );
      const admin = { authorization: `Bearer ${await adminToken(cluster.cfg, learners[0].id)}` };
      const course = (await expectStatus(
        `${api}/courses/${courseId}/analytics`,
        { headers: admin },
        200,
        "course analytics",
      )) as { enrolments: number };
      if (course.enrolments < ANALYTICS_LEARNERS)
        throw new Error(`course analytics counts ${course.enrolments} enrolments`);
      await expectStatus(
        `${api}/admin/analytics?days=30`,
        { headers: admin },
        200,
        "admin analytics",
      );
      plans.push(
        {
          id: "8",
          label: "8 course analytics",
          spec: { url: `${api}/courses/${courseId}/analytics`, headers: admin },
        },
        {
          id: "8b",
          label: "8b admin analytics",
          spec: { url: `${api}/admin/analytics?days=30`, headers: admin },
        },
      );
    }

    if (ONLY && ONLY.length > 0) {
      await partialRun(
        cluster,
        slicer,
        plans.filter(p => wanted(p.id)),
        startedAt,
        wanted("12") ? revocations : undefined,
      );
      sampler.stop();
      console.log(
        "\n" + rssTable(nodeRss(allNodes(), sampler.peaks, sampler.highWater), RUNTIME).join("\n"),
      );
      return;
    }

    // 1–5, in rounds interleaved with the baseline.
    const degradedParts = () =>
      [...serviceNodes[0].degraded.values()].reduce((sum, n) => sum + n, 0);
    const degradedBefore = degradedParts();
    const warmed = await slicer.warmUp(plans);
    await slicer.rounds(plans, startedAt + SCENARIOS_END_MS);
    // Parts later than the dashboard's 300 ms deadline are left out of that answer (still a 200).
    const dashboardDegradedParts = degradedParts() - degradedBefore;
    const dashboardsServed = warmed["3"] + summarize(slicer.slices, "3").requests;
    log(
      `3 dashboard: ${dashboardDegradedParts} parts of ${dashboardsServed} dashboards answered late (degraded), warm-up included`,
    );
    const loginPairs = slicer.paired.map(p => p.scenarioRps / p.rate);
    const rawHash = median(slicer.paired.map(p => p.rate));
    const cores = CORES;
    log(
      `raw hash rate ${rawHash.toFixed(1)}/s on ${cores} cores (median of ${loginPairs.length}, each right after a login slice)`,
    );

    // 7: a second node of content and of progress, the same interleaving.
    log("7 horizontal: adding content-2 and progress-2");
    serviceNodes.push(
      ...(await Promise.all([
        startServiceNode("content-2", ["content"], env),
        startServiceNode("progress-2", ["progress"], env),
      ])),
    );
    await waitForNodes(runner, ["content", "progress"], 2);
    await sleep(2000);
    const horizontalPlans: Plan[] = [
      { id: "7a", label: "7a course (anonymous), 2 content nodes", spec: plans[0].spec },
      { id: "7b", label: "7b course (learner), 2 content nodes", spec: plans[1].spec },
      { id: "7c", label: "7c attempt, 2 progress nodes", spec: attemptSpec },
    ];
    await slicer.warmUp(horizontalPlans);
    await slicer.rounds(horizontalPlans, startedAt + HORIZONTAL_END_MS);

    // 12: back on one node per service, the learner's read of 1b with the revocations held.
    const extra = serviceNodes.filter(n => n.name.endsWith("-2"));
    await Promise.all(extra.map(n => n.stop(5000)));
    const recorded = await revocations.record();
    await slicer.warmUp([revocations.plan]);
    await slicer.rounds([revocations.plan], startedAt + REVOCATIONS_END_MS);
    slicer.stop();
    const slices = slicer.slices;
    const summary = new Map(
      ["baseline", ...plans.map(p => p.id), ...horizontalPlans.map(p => p.id), "12"].map(id => [
        id,
        summarize(slices, id),
      ]),
    );
    const sum = (id: string) => summary.get(id) as ScenarioSummary;
    for (const plan of [
      { id: "baseline", label: "baseline" },
      ...plans,
      ...horizontalPlans,
      revocations.plan,
    ])
      logSummary(plan.label, sum(plan.id));

    // 6: durable events end to end, on the one-node-per-service cluster again.
    log(`6 durable events: ${EVENTS} user.updated through the users outbox → progress + notify`);
    const committedAt = await fillOutbox(db.url, EVENTS);
    // Bounded so that the whole run stays within its time budget, whatever the rounds took.
    const eventsDeadline = Math.min(
      Date.now() + EVENTS_BUDGET_MS,
      Math.max(Date.now() + 15_000, startedAt + EVENTS_END_MS),
    );
    let counts = await eventCounts(db.url);
    while (Date.now() < eventsDeadline && Math.min(counts.progress, counts.notify) < EVENTS) {
      await sleep(500);
      counts = await eventCounts(db.url);
    }
    const eventsBoundSec = (eventsDeadline - committedAt) / 1000;
    const consumed = Math.min(counts.progress, counts.notify);
    // Not consumed in time is not lost: stop the consumers (in-flight events finish and are
    // acknowledged), then what is neither processed nor waiting in a queue is lost.
    const waiting: Record<string, number> = {};
    if (consumed < EVENTS) {
      await Promise.all(
        serviceNodes.filter(n => /^(progress|notify)/.test(n.name)).map(n => n.stop(15_000)),
      );
      counts = await eventCounts(db.url);
      for (const service of ["progress", "notify"])
        waiting[service] = await queued(namespace, service);
    }
    const lostBy = {
      // Rows the relay had not published yet are still in the outbox: late, not lost.
      progress: Math.max(0, counts.published - counts.progress - (waiting.progress ?? 0)),
      notify: Math.max(0, counts.published - counts.notify - (waiting.notify ?? 0)),
    };
    const lost = Math.max(lostBy.progress, lostBy.notify);
    const eventSeconds = ((counts.lastProcessedAt ?? Date.now()) - committedAt) / 1000;
    const perSecond = Math.min(counts.progress, counts.notify) / Math.max(eventSeconds, 0.001);
    log(
      `events: published ${counts.published}, consumed progress ${counts.progress} notify ${counts.notify} in ${eventSeconds.toFixed(1)} s → ${Math.round(perSecond)}/s; still queued ${JSON.stringify(waiting)}; lost ${lost}`,
    );

    sampler.stop();

    // Figures.
    const scenarios: ScenarioFigure[] = [
      figure("1", "GET /courses/:id, published, cached (anonymous)", sum("1"), TARGETS.course),
      figure(
        "1b",
        "GET /courses/:id as a signed-in learner (the gateway's copies)",
        sum("1b"),
        null,
      ),
      figure("2", "GET /leaderboard?period=weekly (authenticated)", sum("2"), TARGETS.leaderboard),
      figure(
        "3",
        "GET /me/dashboard (six parts in parallel)",
        sum("3"),
        TARGETS.dashboard,
        `${dashboardDegradedParts} parts (of 6 per answer, ${dashboardsServed} answers, warm-up included) missed the 300 ms part deadline and were answered as degraded`,
      ),
      figure("4", "POST /lessons/:id/attempts (graded, XP, events)", sum("4"), TARGETS.attempt),
      figure("5", "POST /auth/login (Argon2id)", sum("5"), null),
      figure("9", "GET /me/next (what next, authenticated)", sum("9"), null),
      figure("10", "GET /me/skills (mastery of every skill, authenticated)", sum("10"), null),
      figure("11", "GET /certificates/:id (public verification, anonymous)", sum("11"), null),
      figure(
        "12",
        `scenario 1b while the gateway holds ${recorded.held} live revocations`,
        sum("12"),
        null,
        `${recorded.held} sessions ended through users.revokeSession in ${recorded.seconds.toFixed(1)} s before its slices; compare with 1b (the same read without)`,
      ),
      figure("7a", "scenario 1 with 2 content nodes", sum("7a"), null),
      figure("7b", "scenario 1b with 2 content nodes", sum("7b"), null),
      figure("7c", "scenario 4 with 2 progress nodes", sum("7c"), null),
    ];
    const horizontal = [
      {
        scenario: "1 course (anonymous) — content ×2",
        one: "1",
        two: "7a",
        scaled: "content",
      },
      {
        scenario: "1b course (learner) — content ×2",
        one: "1b",
        two: "7b",
        scaled: "content",
      },
      { scenario: "4 attempt — progress ×2", one: "4", two: "7c", scaled: "progress" },
    ].map(h => {
      const [one, two] = [sum(h.one), sum(h.two)];
      const projected = projectOneCorePerNode(one.cpuMsPerRequest, h.scaled);
      return {
        scenario: h.scenario,
        oneNode: Math.round(one.rps.median),
        twoNodes: Math.round(two.rps.median),
        // Of the ratios, not of req/s: the two phases ran minutes apart, each next to its own baseline.
        gain: Number((two.ratio.median / one.ratio.median).toFixed(2)),
        projectedOneCorePerNode: Math.round(projected),
        note:
          `${cores} cores shared by every process: a second node adds no CPU, only balancing. ` +
          `Projection from CPU per request measured with one node (busiest: ${busiest(one.cpuMsPerRequest)}).`,
      };
    });
    const rss = nodeRss(allNodes(), sampler.peaks, sampler.highWater);
    const reads = scenarios.filter(s =>
      ["1", "1b", "2", "3", "9", "10", "11", "12"].includes(s.id),
    );
    const worstRead = reads.reduce((a, s) => (s.p99 > a.p99 ? s : a), reads[0]);
    const loginRatio = median(loginPairs);
    const eventsMet = consumed === EVENTS && lost === 0 && perSecond >= TARGETS.events;
    const byId = (id: string) => scenarios.find(s => s.id === id) as ScenarioFigure;

    const targets: BenchResults["targets"] = [
      ...["1", "2", "3", "4"].map(id => {
        const s = byId(id);
        return {
          target: `${s.name} ≥ ${s.target} × baseline`,
          value: `median ${s.ratio.toFixed(2)} × (${s.ratioMin.toFixed(2)}–${s.ratioMax.toFixed(2)})`,
          met: s.met === true,
          cause: s.met ? undefined : causeOf(s, sum(id)),
        };
      }),
      {
        target: `login ≥ ${TARGETS.login} × raw hash rate`,
        value: `${loginRatio.toFixed(2)} ×`,
        met: loginRatio >= TARGETS.login,
        cause:
          loginRatio >= TARGETS.login
            ? undefined
            : "each login also reads the account, checks two Redis limits, writes a session and signs a token, on the same 2 cores the hashing uses (libuv pool: one thread per core)",
      },
      {
        target: `p99 of every read ≤ ${TARGETS.readP99} ms at ${CONNECTIONS} connections`,
        value: reads.map(s => `${s.id}: ${s.p99} ms`).join(", "),
        met: reads.every(s => s.p99 <= TARGETS.readP99),
        cause:
          worstRead.p99 <= TARGETS.readP99
            ? undefined
            : `worst is ${worstRead.id} (${worstRead.p99} ms): ${CONNECTIONS} requests in flight on 2 cores queue behind each other in every process they cross`,
      },
      {
        target: `events ≥ ${TARGETS.events}/s end to end, 0 lost`,
        value: `${Math.round(perSecond)}/s, ${lost} lost`,
        met: eventsMet,
        cause: eventsMet
          ? undefined
          : lost > 0
            ? `${lost} events neither processed nor queued`
            : consumed < EVENTS
              ? `only ${consumed} of ${EVENTS} consumed within ${eventsBoundSec.toFixed(0)} s (the rest waited in RabbitMQ, none lost); consumers take batches of up to 250 events per PostgreSQL transaction (prefetch 500); the relay publishes batches of 500 with confirms to quorum queues`
              : "consumers handle up to 250 events per PostgreSQL transaction and the relay publishes batches of 500 with pipelined confirms; on 2 cores RabbitMQ's quorum-queue writes, PostgreSQL and the three Node processes share the CPU",
      },
      ...rssTargetRows(rss),
    ];

    const results: BenchResults = {
      date: new Date().toISOString(),
      machine: {
        cpus: cores,
        cpuModel: os.cpus()[0]?.model ?? "?",
        memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
        platform: `${os.type()} ${os.arch()}`,
        kernel: os.release(),
        loadAverageAtStart: loadAverageAtStart.map(v => Number(v.toFixed(2))),
        settle: { atStart, beforeMeasuring },
      },
      versions: {
        node: process.versions.node,
        moleculer: version("moleculer"),
        "moleculer-web": version("moleculer-web"),
        autocannon: version("autocannon"),
        "@node-rs/argon2": version("@node-rs/argon2"),
        nats: version("nats"),
        amqplib: version("amqplib"),
        ioredis: version("ioredis"),
        pg: version("pg"),
      },
      settings: {
        connections: CONNECTIONS,
        sliceSec: SLICE,
        warmupSec: WARMUP,
        rounds: ROUNDS,
        maxSpread: MAX_SPREAD,
        learners: LEARNERS,
        attempts: ATTEMPTS,
        tokens: TOKENS,
        quick: QUICK,
      },
      baseline: {
        rps: Math.round(sum("baseline").rps.median),
        rpsMin: Math.round(sum("baseline").rps.min),
        rpsMax: Math.round(sum("baseline").rps.max),
        spread: Number(sum("baseline").rps.spread.toFixed(3)),
        p50: sum("baseline").p50,
        p99: sum("baseline").p99,
        max: sum("baseline").max,
        errors: sum("baseline").errors,
        slices: sum("baseline").slices,
      },
      scenarios,
      login: {
        rps: Number(sum("5").rps.median.toFixed(1)),
        perCore: Number((sum("5").rps.median / cores).toFixed(1)),
        rawHashRate: Number(rawHash.toFixed(1)),
        rawHashPerCore: Number((rawHash / cores).toFixed(1)),
        ratioToHash: Number(loginRatio.toFixed(3)),
        ratioToHashMin: Number(Math.min(...loginPairs).toFixed(3)),
        ratioToHashMax: Number(Math.max(...loginPairs).toFixed(3)),
        pairs: slicer.paired,
        target: TARGETS.login,
        met: loginRatio >= TARGETS.login,
      },
      events: {
        published: counts.published,
        consumed,
        consumedBy: { progress: counts.progress, notify: counts.notify },
        queuedAtEnd: waiting,
        lost,
        perSecond: Math.round(perSecond),
        seconds: Number(eventSeconds.toFixed(2)),
        target: TARGETS.events,
        met: eventsMet,
      },
      horizontal,
      runtime: RUNTIME,
      rss,
      seed: {
        learners: seeded.learners,
        attempts: seeded.attempts,
        passedAttempts: seeded.passed,
        xpTotal: seeded.xpTotal,
        weeklyBoard: boards.weekly,
        allTimeBoard: boards.allTime,
        seedSeconds: Number(seeded.seconds.toFixed(1)),
      },
      targets,
      dashboardDegradedParts,
      nodeFlags: process.env.BENCH_NODE_FLAGS ?? NODE_FLAGS,
      cpuMsPerRequest: Object.fromEntries([...summary].map(([id, x]) => [id, x.cpuMsPerRequest])),
      slices,
      foreignMaxCores: FOREIGN_MAX_CORES,
      disturbedSlices: slicer.disturbed,
    };
    // A quick trial is no result: its files go to the temporary directory.
    const resultsDir = QUICK
      ? path.join(os.tmpdir(), "lingomesh-bench-quick")
      : path.join(ROOT, "bench", "results");
    const files = writeResults(resultsDir, results);
    console.log("\n" + markdown(results));
    log(`wrote ${files.json} and ${files.md} in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`);
  } finally {
    clearTimeout(budget);
    log("stopping every bench process");
    await cleanup();
  }
}

/** BENCH_SCENARIOS: only the named scenarios, interleaved with the baseline, figures printed with CPU per request per node. */
async function partialRun(
  cluster: Cluster,
  slicer: SliceRunner,
  plans: Plan[],
  startedAt: number,
  revocations?: RevocationPhase,
): Promise<void> {
  if (plans.length > 0) {
    await slicer.warmUp(plans);
    await slicer.rounds(plans, startedAt + SCENARIOS_END_MS);
  }
  if (revocations) {
    await revocations.record();
    await slicer.warmUp([revocations.plan]);
    await slicer.rounds([revocations.plan], startedAt + REVOCATIONS_END_MS);
    plans.push(revocations.plan);
  }
  if (plans.length > 0) {
    for (const plan of [{ id: "baseline", label: "baseline" }, ...plans]) {
      const s = summarize(slicer.slices, plan.id);
      logSummary(plan.label, s);
      if (plan.id === "baseline") continue;
      if (verdict(s.ratio, null) === "noisy")
        log(`  spread over ${MAX_SPREAD * 100} %: this trial says nothing about its target`);
      log(`  CPU ms/request: ${busiest(s.cpuMsPerRequest, 6)}`);
      if ("spec" in plan && (plan.spec.method ?? "GET") === "GET")
        log(
          `  p99 ${s.p99} ms: target ≤ ${TARGETS.readP99} ms ${s.p99 <= TARGETS.readP99 ? "met" : "not met"}`,
        );
    }
  }
  slicer.stop();
  if (wanted("5")) {
    const pairs = slicer.paired.map(p => (p.scenarioRps / p.rate).toFixed(3));
    log(`login ÷ raw Argon2id hash rate, each slice's: ${pairs.join(", ")}`);
  }
  if (wanted("6")) {
    const cpuBefore = nodeCpu();
    const committedAt = await fillOutbox(cluster.env.DATABASE_URL, EVENTS);
    const deadline = Date.now() + EVENTS_BUDGET_MS;
    let counts = await eventCounts(cluster.env.DATABASE_URL);
    let polls = 0;
    while (Date.now() < deadline && Math.min(counts.progress, counts.notify) < EVENTS) {
      await sleep(500);
      counts = await eventCounts(cluster.env.DATABASE_URL);
      if (++polls % 10 === 0)
        log(
          `6 after ${((Date.now() - committedAt) / 1000).toFixed(0)} s: published ${counts.published}, progress ${counts.progress}, notify ${counts.notify}`,
        );
    }
    const seconds = ((counts.lastProcessedAt ?? Date.now()) - committedAt) / 1000;
    log(
      `6 events: published ${counts.published}, progress ${counts.progress}, notify ${counts.notify} in ${seconds.toFixed(1)} s → ${Math.round(Math.min(counts.progress, counts.notify) / seconds)}/s`,
    );
    // On a shared machine the rate follows the neighbours; CPU per event per node does not.
    const cpuAfter = nodeCpu();
    const perEvent = Object.entries(cpuAfter)
      .filter(([name]) => name in cpuBefore)
      .map(([name, s]) => [name, ((s - cpuBefore[name]) * 1000) / EVENTS] as const)
      .filter(([, ms]) => ms >= 0.005)
      .sort((a, b) => b[1] - a[1]);
    log(`6 CPU ms/event: ${perEvent.map(([name, ms]) => `${name} ${ms.toFixed(3)}`).join(", ")}`);
  }
  const gateway = liveNodes().find(n => n.name === "api-1");
  if (gateway && gateway.degraded.size > 0)
    log(`dashboard parts degraded: ${JSON.stringify(Object.fromEntries(gateway.degraded))}`);
  const rss = liveNodes().map(n => `${n.name} ${(rssNow(n.pid) ?? 0).toFixed(0)}`);
  log(`RSS now (MiB): ${rss.join(", ")}`);
}

/**
 * CPU seconds used so far by each live node, by name, and by RabbitMQ and PostgreSQL (whose
 * figures include what other work on the machine asked of them).
 */
function nodeCpu(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const node of liveNodes()) {
    const seconds = cpuSeconds(node.pid);
    if (seconds !== undefined) out[node.name] = seconds;
  }
  const servers = new Map([
    ["beam.smp", "rabbitmq"],
    ["postgres", "postgresql"],
  ]);
  for (const times of readProcesses().values()) {
    const name = servers.get(times.comm);
    if (name) out[name] = (out[name] ?? 0) + times.cpuTicks / 100;
  }
  return out;
}

/** Scenario 12: its plan, and the revocations to record before its slices. */
interface RevocationPhase {
  plan: Plan;
  record(): Promise<{ held: number; seconds: number }>;
}

/**
 * REVOKED_SESSIONS open sessions of seeded learners, each ended through users.revokeSession as
 * its owner would (the session row, the revocation store, the broadcast every gateway applies),
 * 20 at a time; then as long as the gateways' re-read of the newest entries looks back (5 s), so
 * that the slices measure what holding them costs, not taking them in.
 */
async function recordRevocations(
  runner: ServiceBroker,
  databaseUrl: string,
): Promise<{ held: number; seconds: number }> {
  const started = Date.now();
  const sessions = await seedSessions(databaseUrl, REVOKED_SESSIONS);
  let next = 0;
  const worker = async () => {
    while (next < sessions.length) {
      const { userId, sessionId } = sessions[next++];
      await runner.call(
        "users.revokeSession",
        { id: sessionId },
        { meta: { user: { id: userId, roles: ["learner"] } } },
      );
    }
  };
  await Promise.all(Array.from({ length: 20 }, worker));
  const seconds = (Date.now() - started) / 1000;
  log(
    `12 ended ${sessions.length} sessions through users.revokeSession in ${seconds.toFixed(1)} s`,
  );
  await sleep(6000);
  return { held: sessions.length, seconds };
}

function busiest(cpu: Record<string, number>, top = 2): string {
  const entries = Object.entries(cpu).filter(([n]) => !n.startsWith("baseline"));
  entries.sort((a, b) => b[1] - a[1]);
  return entries
    .slice(0, top)
    .map(([n, ms]) => `${n} ${ms.toFixed(2)} ms CPU/req`)
    .join(", ");
}

/** Why a ratio target is not met: the run could not judge it, or what each request costs. */
function causeOf(s: ScenarioFigure, summary: ScenarioSummary): string {
  const weather = `load ${s.load1.min.toFixed(1)}–${s.load1.max.toFixed(1)}, steal up to ${s.stealPct.max.toFixed(1)} %`;
  if (s.verdict === "noisy")
    return `the slices spread ${(s.spread * 100).toFixed(0)} % (> ${MAX_SPREAD * 100} %): no verdict from this run (${weather})`;
  const cost = `CPU per request: ${busiest(summary.cpuMsPerRequest)} (2 cores shared by every node, PostgreSQL, Redis, NATS and the load generator)`;
  if (s.verdict === "straddles")
    return `the lowest slice (${s.ratioMin.toFixed(2)} ×) is under the target; ${cost}`;
  return cost;
}

void main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);
