import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ServiceBroker } from "moleculer";
import { Cluster, type NodeSpec } from "./chaos/cluster";
import { deleteAmqpTopology } from "./amqp-cleanup";
import type { AnyDrill, DrillResult } from "./chaos/drill";
import { killProgressDrill } from "./chaos/drills/kill-progress";
import { sigtermDrill } from "./chaos/drills/sigterm";
import { notifyOfflineDrill } from "./chaos/drills/notify-offline";
import { rabbitOutageDrill } from "./chaos/drills/rabbit-outage";
import { redisOutageDrill } from "./chaos/drills/redis-outage";
import { natsOutageDrill } from "./chaos/drills/nats-outage";
import { poisonEventDrill } from "./chaos/drills/poison-event";
import { queueRedeclaredDrill } from "./chaos/drills/queue-redeclared";
import { brokerBlockedDrill } from "./chaos/drills/broker-blocked";
import { connectionClosesDrill } from "./chaos/drills/connection-closes";
import { relayKilledDrill } from "./chaos/drills/relay-killed";
import { outOfOrderDrill } from "./chaos/drills/out-of-order";
import { mongoOutboxDrill } from "./chaos/drills/mongo-outbox";
import { natsClusterDrill } from "./chaos/drills/nats-cluster";
import { redisFailoverDrill } from "./chaos/drills/redis-failover";
import { rollingRestartDrill } from "./chaos/drills/rolling-restart";
import { notifyScaleOutDrill } from "./chaos/drills/notify-scale-out";
import { killOwnClustersNow } from "./chaos/own-cluster";
import { SmtpSink } from "./chaos/smtp-sink";
import { renderMarkdown, renderTable } from "./chaos/report";

/**
 * `npm run chaos`: the fault drills of issues 9, 13 and 22 on real multi-process clusters on
 * loopback (drills 1–12 share one; 13–16 each build their own). Prints each drill's figures as it goes and a table at the end; writes
 * bench/results/chaos-latest.json and bench/results/chaos-latest.md.
 *
 *   npm run chaos                 every drill
 *   npm run chaos -- --only 1,6   some of them
 */

const ALL_DRILLS: AnyDrill[] = [
  killProgressDrill,
  sigtermDrill,
  notifyOfflineDrill,
  rabbitOutageDrill,
  redisOutageDrill,
  natsOutageDrill,
  poisonEventDrill,
  queueRedeclaredDrill,
  brokerBlockedDrill,
  connectionClosesDrill,
  relayKilledDrill,
  outOfOrderDrill,
  natsClusterDrill,
  redisFailoverDrill,
  rollingRestartDrill,
  notifyScaleOutDrill,
  mongoOutboxDrill,
];

const TOPOLOGY: NodeSpec[] = [
  { name: "api", services: ["api"] },
  { name: "users", services: ["users"] },
  { name: "content", services: ["content"] },
  { name: "progress-1", services: ["progress"] },
  { name: "progress-2", services: ["progress"] },
  { name: "notify", services: ["notify"] },
];

const RESULTS_DIR = path.join(__dirname, "results");
/** The whole run is bounded: no drill may hang the command. */
const RUN_LIMIT_MS = 30 * 60_000;
const DRILL_LIMIT_MS = 6 * 60_000;

function selectedDrills(argv: string[]): AnyDrill[] {
  const index = argv.indexOf("--only");
  const raw = index >= 0 ? argv[index + 1] : argv.find(a => a.startsWith("--only="))?.slice(7);
  if (!raw) return ALL_DRILLS;
  const ids = new Set(raw.split(",").map(Number));
  return ALL_DRILLS.filter(drill => ids.has(drill.id));
}

function log(line: string): void {
  console.log(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`);
}

async function withLimit<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} exceeded ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function main(): Promise<void> {
  const drills = selectedDrills(process.argv.slice(2));
  const runLimit = setTimeout(() => {
    console.error(`chaos run exceeded ${RUN_LIMIT_MS / 60_000} min; stopping`);
    process.exit(2);
  }, RUN_LIMIT_MS);
  runLimit.unref();

  const smtp = new SmtpSink();
  await smtp.start();
  const logDir = path.join(RESULTS_DIR, "chaos-logs");
  fs.rmSync(logDir, { recursive: true, force: true });
  const cluster = new Cluster({ nodes: TOPOLOGY, env: { SMTP_URL: smtp.url }, logDir });
  // Whatever happens (error, Ctrl-C, the run limit), no node process outlives the harness.
  process.on("exit", () => {
    cluster.killAllNow();
    killOwnClustersNow();
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      cluster.killAllNow();
      killOwnClustersNow();
      process.exit(130);
    });
  }

  const started = new Date();
  const results: DrillResult[] = [];
  // Drills with a cluster of their own need no shared one.
  const sharedCluster = drills.some(drill => !drill.ownCluster);
  try {
    if (sharedCluster) {
      log(
        `starting the cluster (namespace ${cluster.namespace}): ${TOPOLOGY.map(n => n.name).join(", ")}`,
      );
      const t0 = performance.now();
      await cluster.start();
      log(
        `cluster ready in ${((performance.now() - t0) / 1000).toFixed(1)} s; node logs in ${logDir}`,
      );
    }
    for (const drill of drills) {
      log(`drill ${drill.id}: ${drill.name}`);
      const t = performance.now();
      let result: DrillResult;
      const basics = { smtp, logDir, log: (line: string) => log(`  ${line}`) };
      try {
        let run: ReturnType<AnyDrill["run"]>;
        if (drill.ownCluster) run = drill.run(basics);
        else {
          if (!(await cluster.allReady())) await cluster.waitForEndpoints();
          run = drill.run({ ...basics, cluster });
        }
        const out = await withLimit(run, drill.limitMs ?? DRILL_LIMIT_MS, `drill ${drill.id}`);
        const crashed = drill.ownCluster ? [] : cluster.crashed();
        if (crashed.length > 0)
          out.notes.push(`processes that exited on their own: ${crashed.join(", ")}`);
        result = {
          id: drill.id,
          name: drill.name,
          ...out,
          passed: out.checks.every(c => c.pass !== false) && crashed.length === 0,
          durationSeconds: Number(((performance.now() - t) / 1000).toFixed(1)),
        };
      } catch (err) {
        const error = err as Error;
        result = {
          id: drill.id,
          name: drill.name,
          passed: false,
          checks: [],
          notes: [],
          details: {},
          durationSeconds: Number(((performance.now() - t) / 1000).toFixed(1)),
          error: error.message,
        };
      }
      results.push(result);
      for (const c of result.checks) {
        const target = c.target ? ` (target ${c.target}: ${c.pass ? "met" : "MISSED"})` : "";
        log(
          `  ${c.figure}: ${c.value}${c.unit && c.unit !== "%" ? ` ${c.unit}` : (c.unit ?? "")}${target}`,
        );
      }
      if (result.error) log(`  ERROR: ${result.error}`);
      log(
        `  drill ${drill.id} ${result.passed ? "passed" : "FAILED"} in ${result.durationSeconds} s`,
      );
    }
  } finally {
    if (sharedCluster) {
      await cluster.stop().catch(err => log(`cluster stop: ${(err as Error).message}`));
      await deleteAmqpTopology(cluster.namespace).catch(() => undefined);
    }
    await smtp.stop().catch(() => undefined);
  }

  const report = {
    date: started.toISOString(),
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      memoryGiB: Number((os.totalmem() / 2 ** 30).toFixed(1)),
      platform: `${os.platform()} ${os.release()}`,
    },
    versions: { node: process.version, moleculer: ServiceBroker.MOLECULER_VERSION },
    topology: TOPOLOGY.map(n => `${n.name} (${n.services.join(",")})`),
    faults:
      "Drills 1–12: NATS, Redis and RabbitMQ are the machine's shared servers; each outage is a TCP proxy in front of the server, cut for this cluster only. Drills 13–16: clusters of their own (own database, namespace and RabbitMQ vhost), with their own NATS cluster or Redis Sentinel group whose servers are killed with SIGKILL.",
    drills: results,
    passed: results.every(r => r.passed),
  };
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const latest = path.join(RESULTS_DIR, "chaos-latest.json");
  if (drills.length < ALL_DRILLS.length && fs.existsSync(latest)) {
    // A partial run (--only) replaces its drills in the last full report, keeping the rest.
    const previous = JSON.parse(fs.readFileSync(latest, "utf8")) as { drills?: DrillResult[] };
    const fresh = new Set(results.map(r => r.id));
    report.drills = [...(previous.drills ?? []).filter(d => !fresh.has(d.id)), ...results].sort(
      (a, b) => a.id - b.id,
    );
    report.passed = report.drills.every(r => r.passed);
  }
  fs.writeFileSync(
    path.join(RESULTS_DIR, "chaos-latest.json"),
    `${JSON.stringify(report, null, 2)}\n`,
  );
  fs.writeFileSync(path.join(RESULTS_DIR, "chaos-latest.md"), renderMarkdown(report));
  console.log(`\n${renderTable(results)}`);
  console.log(`\nwritten: bench/results/chaos-latest.json, bench/results/chaos-latest.md`);
  clearTimeout(runLimit);
  process.exitCode = report.passed ? 0 : 1;
}

main().catch(err => {
  console.error(err);
  process.exitCode = 1;
});
