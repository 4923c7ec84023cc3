import type { ServiceName } from "../../../lib/config";
import type { Cluster, NodeSpec } from "../cluster";
import { check, type OwnClusterDrill } from "../drill";
import {
  call,
  idempotencyKey,
  learnerEmail,
  register,
  registerLearners,
  starterQuiz,
  type Learner,
  type Reply,
} from "../http";
import { runLoad, summarize, type Sample } from "../load";
import { onOwnCluster } from "../own-cluster";
import { round, sleep, waitFor } from "../util";
import { gradedTwiceCheck } from "./attempts";

/** Restarted in this order, one node at a time; the gateways last, as a deploy would. */
const SERVICES: ServiceName[] = ["content", "users", "progress", "notify", "api"];
const TOPOLOGY: NodeSpec[] = SERVICES.flatMap(service => [
  { name: `${service}-1`, services: [service] },
  { name: `${service}-2`, services: [service] },
]);
/** Traffic before the first restart and after the last one. */
const MARGIN_MS = 3_000;

interface Restart {
  node: string;
  /** Offsets into the load run (ms): SIGTERM sent, process gone, new process ready. */
  termAt: number;
  goneAt: number;
  readyAt: number;
  exit: string;
  /** Requests the balancer still had on a gateway when it left the rotation. */
  drained?: number;
}

/**
 * The mixed traffic: reads of every service (anonymous and signed in), graded attempts with
 * an Idempotency-Key, logins, and now and then a registration (whose welcome mail must come
 * exactly once although notify restarts too).
 */
function mixedRequest(
  cluster: Cluster,
  learners: Learner[],
  registered: string[],
  tag: string,
): (i: number) => Promise<Reply> {
  const quiz = starterQuiz();
  return async i => {
    const learner = learners[i % learners.length];
    const token = learner.accessToken;
    switch (i % 20) {
      case 0: {
        const email = learnerEmail(tag, registered.length);
        registered.push(email);
        return register(cluster.apiUrl, email);
      }
      case 1:
        return call(cluster.apiUrl, "POST", "/auth/login", {
          body: { email: learner.email, password: learner.password },
        });
      case 2:
      case 3:
      case 4:
        return call(cluster.apiUrl, "GET", "/courses?level=A1");
      case 5:
        return call(cluster.apiUrl, "GET", `/courses/${quiz.courseId}`, { token });
      case 6:
      case 7:
        return call(cluster.apiUrl, "GET", "/leaderboard?period=weekly", { token });
      case 8:
      case 9:
        return call(cluster.apiUrl, "GET", "/me", { token });
      case 10:
      case 11:
        return call(cluster.apiUrl, "GET", "/me/notifications", { token });
      case 12:
        return call(cluster.apiUrl, "GET", "/me/dashboard", { token });
      default:
        return call(cluster.apiUrl, "POST", `/lessons/${quiz.lessonId}/attempts`, {
          token,
          body: { answers: quiz.answers },
          headers: { "Idempotency-Key": idempotencyKey() },
        });
    }
  };
}

const SUCCESS = new Set([200, 201]);

/** Which request of the mix sample `i` was, for the failure breakdown. */
function kindOf(i: number): string {
  const slot = i % 20;
  if (slot === 0) return "register";
  if (slot === 1) return "login";
  if (slot <= 5) return "content read";
  if (slot <= 7) return "leaderboard";
  if (slot <= 9) return "me";
  if (slot <= 11) return "notifications";
  if (slot === 12) return "dashboard";
  return "attempt";
}

/** Failures by the restart whose window (SIGTERM to 2 s after the new node was ready) they fell in. */
function failuresByRestart(samples: Sample[], restarts: Restart[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sample of samples) {
    if (sample.ok) continue;
    const during = restarts.find(
      r => sample.endMs >= r.termAt && sample.startMs <= r.readyAt + 2000,
    );
    const key = during?.node ?? "outside any restart";
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/**
 * Drill 15: every service on two nodes; each node in turn gets SIGTERM (a gateway first leaves
 * the balancer and its in-flight requests finish, as a pod's preStop gives the endpoints time),
 * and is started again; the next one goes once the new one is ready. Mixed traffic throughout.
 */
export const rollingRestartDrill: OwnClusterDrill = {
  id: 15,
  name: "rolling restart of every service (two nodes each), one node at a time, under mixed traffic",
  ownCluster: true,
  limitMs: 10 * 60_000,
  async run(ctx) {
    return onOwnCluster(
      ctx,
      { tag: "drill-15", nodes: TOPOLOGY, balanced: true },
      async cluster => {
        const balancer = cluster.balancer;
        if (!balancer) throw new Error("the drill needs the balancer in front of the gateways");
        const tag = `rolling-${cluster.namespace}`;
        const learners = await registerLearners(cluster.apiUrl, `${tag}-pool`, 16);
        const registered: string[] = [];
        const send = mixedRequest(cluster, learners, registered, tag);
        const restarts: Restart[] = [];
        let finished = false;
        let startedAt = 0;
        const offset = () => performance.now() - startedAt;
        const sequence = async () => {
          await sleep(MARGIN_MS);
          for (const spec of TOPOLOGY) {
            const restart: Restart = {
              node: spec.name,
              termAt: offset(),
              goneAt: 0,
              readyAt: 0,
              exit: "",
            };
            if (spec.services.includes("api")) restart.drained = await balancer.drain(spec.name);
            restart.termAt = offset();
            restart.exit = await cluster.kill(spec.name, "SIGTERM");
            restart.goneAt = offset();
            await cluster.startNode(spec);
            restart.readyAt = offset();
            restarts.push(restart);
            ctx.log(
              `${spec.name}: stopped in ${round((restart.goneAt - restart.termAt) / 1000)} s (exit ${restart.exit}), ready again after ${round((restart.readyAt - restart.goneAt) / 1000)} s`,
            );
          }
          await sleep(MARGIN_MS);
          finished = true;
        };
        ctx.log(`mixed traffic (8 connections) while ${TOPOLOGY.length} nodes restart one by one`);
        startedAt = performance.now();
        const [run] = await Promise.all([
          runLoad({
            durationMs: 8 * 60_000,
            concurrency: 8,
            stop: () => finished,
            send,
            ok: reply => SUCCESS.has(reply.status),
          }),
          sequence(),
        ]);
        const load = summarize(run.samples);
        const failedKinds: Record<string, number> = {};
        for (const sample of run.samples.filter(s => !s.ok)) {
          const key = `${kindOf(sample.index)} ${sample.status || sample.error}`;
          failedKinds[key] = (failedKinds[key] ?? 0) + 1;
        }
        const db = await gradedTwiceCheck(cluster);
        const { gradedTwice } = db;
        const created = await cluster.sql<{ email: string }>(
          `SELECT email FROM users.users WHERE email = ANY($1)`,
          [registered],
        );
        const createdEmails = created.map(r => r.email);
        await waitFor(() => ctx.smtp.tally(createdEmails).missing === 0, 60_000, 500);
        await sleep(3000);
        const mails = ctx.smtp.tally(createdEmails);
        const exits = restarts.filter(r => r.exit !== "0").map(r => `${r.node}: ${r.exit}`);
        const slowestStop = Math.max(0, ...restarts.map(r => r.goneAt - r.termAt)) / 1000;
        return {
          checks: [
            check("requests", load.requests),
            check("failed requests", load.failed, "0", load.failed === 0),
            check("p99 latency", load.p99, undefined, undefined, "ms"),
            check("slowest request", load.max, undefined, undefined, "ms"),
            check(
              "nodes restarted",
              restarts.length,
              String(TOPOLOGY.length),
              restarts.length === TOPOLOGY.length,
            ),
            check(
              "exit codes other than 0",
              exits.length ? exits.join(", ") : 0,
              "0",
              exits.length === 0,
            ),
            check(
              "slowest stop after SIGTERM",
              round(slowestStop),
              "≤ 10 s",
              slowestStop <= 10.5,
              "s",
            ),
            check("attempts graded twice (database)", gradedTwice, "0", gradedTwice === 0),
            check(
              "accounts registered meanwhile, with exactly one welcome mail",
              `${mails.exactlyOne} of ${createdEmails.length}`,
              "all",
              mails.exactlyOne === createdEmails.length && mails.duplicated === 0,
            ),
          ],
          notes: [
            "Ten node processes, two per service; the gateways (each on a port of its own) behind an HTTP balancer in the harness (bench/chaos/balancer.ts) that sends each request to the next gateway in rotation, adds a gateway once its /health/ready answers 200 and, before SIGTERM, takes it out and waits for its in-flight requests (a pod's preStop).",
            "Mix per 20 requests: 1 registration, 1 login, 4 content reads, 2 leaderboard, 2 /me, 2 /me/notifications, 1 /me/dashboard, 7 graded attempts (Idempotency-Key).",
          ],
          details: {
            load,
            failedKinds,
            failuresByRestart: failuresByRestart(run.samples, restarts),
            upstreamErrors: balancer.upstreamErrors,
            restarts: restarts.map(r => ({
              ...r,
              termAt: round(r.termAt / 1000),
              goneAt: round(r.goneAt / 1000),
              readyAt: round(r.readyAt / 1000),
            })),
            database: db,
            mails,
          },
        };
      },
    );
  },
};
