import { check, type Drill } from "../drill";
import { attemptLoad, failureWindow, gradedTwiceCheck, loadFigures } from "./attempts";

/** Drill 1: kill -9 one of two progress nodes during 30 s of attempt traffic. */
export const killProgressDrill: Drill = {
  id: 1,
  name: "kill -9 one of two progress nodes under attempt traffic",
  async run({ cluster, log }) {
    const victim = cluster.node("progress-2");
    log(`30 s of POST /lessons/:id/attempts (16 connections); kill -9 ${victim.nodeId} at 10 s`);
    const { run } = await attemptLoad(cluster, {
      durationMs: 30_000,
      concurrency: 16,
      faultAtMs: 10_000,
      fault: async () => {
        await cluster.kill("progress-2", "SIGKILL");
      },
    });
    const load = loadFigures(run);
    const window = failureWindow(run);
    const db = await gradedTwiceCheck(cluster);
    const { gradedTwice } = db;
    log(`restarting progress-2`);
    await cluster.startNode(victim.spec);
    await cluster.waitForEndpoints();
    return {
      checks: [
        check("requests", load.requests),
        check("failed requests", load.failed),
        check(
          "failed share",
          Number((load.failedShare * 100).toFixed(3)),
          "< 1 %",
          load.failedShare < 0.01,
          "%",
        ),
        check(
          "seconds until no more failures",
          window.untilNoFailures,
          "< 5 s",
          window.untilNoFailures < 5,
          "s",
        ),
        check("attempts graded twice (database)", gradedTwice, "0", gradedTwice === 0),
        check("p99 latency", load.p99, undefined, undefined, "ms"),
      ],
      notes: [
        "SIGKILL (no goodbye): the gateway learns of the loss from the missing heartbeats.",
        "graded twice = attempt rows without their key's answer + keys naming the same attempt + keys naming no attempt + XP ledger rows ≠ one per XP-earning attempt",
      ],
      details: { load, window, database: db, attemptsPerSecond: load.rps },
    };
  },
};
