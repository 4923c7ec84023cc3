import { NatsCluster } from "../../../test/support/clustered-servers";
import type { Cluster } from "../cluster";
import { check, type Check, type OwnClusterDrill } from "../drill";
import { onOwnCluster } from "../own-cluster";
import { attemptLoad, failureWindow, gradedTwiceCheck, loadFigures } from "./attempts";

const ROUND_MS = 15_000;
const KILL_AT_MS = 5_000;

interface Round {
  killed: number;
  movedTo?: number;
  load: ReturnType<typeof loadFigures>;
  window: ReturnType<typeof failureWindow>;
}

/** kill -9 the NATS server the gateway is on, under attempt traffic; where did the gateway go? */
async function killRound(cluster: Cluster, nats: NatsCluster): Promise<Round> {
  const gateway = cluster.node("api").nodeId;
  let killed = -1;
  const { run } = await attemptLoad(cluster, {
    durationMs: ROUND_MS,
    concurrency: 16,
    faultAtMs: KILL_AT_MS,
    fault: async () => {
      const server = await nats.serverOf(gateway);
      if (server === undefined) throw new Error(`no NATS server lists ${gateway}`);
      killed = server;
      await nats.kill(server);
    },
  });
  return {
    killed,
    movedTo: await nats.serverOf(gateway),
    load: loadFigures(run),
    window: failureWindow(run),
  };
}

function roundChecks(label: string, round: Round): Check[] {
  return [
    check(`${label}: requests`, round.load.requests),
    check(`${label}: failed requests`, round.load.failed),
    check(
      `${label}: failed share`,
      Number((round.load.failedShare * 100).toFixed(3)),
      "< 1 %",
      round.load.failedShare < 0.01,
      "%",
    ),
    check(
      `${label}: seconds from the kill until none fail`,
      round.window.untilNoFailures,
      "< 3 s",
      round.window.untilNoFailures < 3,
      "s",
    ),
    check(`${label}: p99 latency`, round.load.p99, undefined, undefined, "ms"),
    check(`${label}: slowest request`, round.load.max, undefined, undefined, "ms"),
  ];
}

/**
 * Drill 13: the Moleculer nodes on a three-server NATS cluster of the drill's own
 * (TRANSPORTER lists all three); kill -9 the server the gateway is connected to under
 * attempt traffic, bring it back, then kill the one the gateway moved to.
 */
export const natsClusterDrill: OwnClusterDrill = {
  id: 13,
  name: "kill -9 the NATS server the gateway is on (three-server NATS cluster), twice",
  ownCluster: true,
  async run(ctx) {
    const nats = new NatsCluster(3);
    return onOwnCluster(
      ctx,
      {
        tag: "drill-13",
        nodes: [
          { name: "api", services: ["api"] },
          { name: "users", services: ["users"] },
          { name: "content", services: ["content"] },
          { name: "progress", services: ["progress"] },
        ],
        servers: [nats],
        env: () => ({ TRANSPORTER: nats.transporterUrl }),
      },
      async cluster => {
        ctx.log(
          `${ROUND_MS / 1000} s of POST /lessons/:id/attempts (16 connections); kill -9 of the gateway's NATS server at ${KILL_AT_MS / 1000} s`,
        );
        const first = await killRound(cluster, nats);
        ctx.log(
          `killed nats-${first.killed}; the gateway is now on nats-${first.movedTo ?? "none"}; bringing nats-${first.killed} back`,
        );
        await nats.startNode(first.killed);
        await nats.waitForRoutes();
        const second = await killRound(cluster, nats);
        ctx.log(
          `killed nats-${second.killed}; the gateway is now on nats-${second.movedTo ?? "none"}`,
        );
        const db = await gradedTwiceCheck(cluster);
        const { gradedTwice } = db;
        const moved =
          first.movedTo !== undefined &&
          first.movedTo !== first.killed &&
          second.movedTo !== undefined &&
          second.movedTo !== second.killed;
        return {
          checks: [
            ...roundChecks("1st kill", first),
            ...roundChecks("2nd kill (after the 1st came back)", second),
            check(
              "servers killed, and where the gateway went",
              `nats-${first.killed} → nats-${first.movedTo ?? "?"}, nats-${second.killed} → nats-${second.movedTo ?? "?"}`,
              "another server each time",
              moved && first.killed !== second.killed,
            ),
            check("attempts graded twice (database)", gradedTwice, "0", gradedTwice === 0),
          ],
          notes: [
            "Three nats-server processes with routes between them on free loopback ports (test/support/clustered-servers.ts), killed with SIGKILL; every node has all three in TRANSPORTER.",
            "Nodes: api, users, content, progress (one each). The gateway's server is found from the servers' /connz (the NATS connection is named after the node ID).",
          ],
          details: { first, second, database: db },
        };
      },
    );
  },
};
