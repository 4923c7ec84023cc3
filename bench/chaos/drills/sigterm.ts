import { check, type Drill } from "../drill";
import { attemptLoad, failureWindow, gradedTwiceCheck, loadFigures } from "./attempts";

/** Drill 2: SIGTERM a progress node under load; its twin takes over with no failed request. */
export const sigtermDrill: Drill = {
  id: 2,
  name: "SIGTERM one of two progress nodes under attempt traffic",
  async run({ cluster, log }) {
    const victim = cluster.node("progress-1");
    let exitInfo = "";
    let stopSeconds = 0;
    log(`20 s of POST /lessons/:id/attempts (16 connections); SIGTERM ${victim.nodeId} at 5 s`);
    const { run } = await attemptLoad(cluster, {
      durationMs: 20_000,
      concurrency: 16,
      faultAtMs: 5_000,
      fault: async () => {
        const started = performance.now();
        exitInfo = await cluster.kill("progress-1", "SIGTERM");
        stopSeconds = (performance.now() - started) / 1000;
      },
    });
    const load = loadFigures(run);
    const window = failureWindow(run);
    const db = await gradedTwiceCheck(cluster);
    log(`restarting progress-1`);
    await cluster.startNode(victim.spec);
    await cluster.waitForEndpoints();
    return {
      checks: [
        check("requests", load.requests),
        check("failed requests", load.failed, "0", load.failed === 0),
        check("node exit code", exitInfo, "0", exitInfo === "0"),
        check(
          "seconds to stop",
          Number(stopSeconds.toFixed(2)),
          "≤ 10 s",
          stopSeconds <= 10.5,
          "s",
        ),
        check(
          "attempts graded twice (database)",
          db.attemptsWithoutKey + db.keysSharingAnAttempt + db.keysWithoutAttempt,
          "0",
          db.attemptsWithoutKey + db.keysSharingAnAttempt + db.keysWithoutAttempt === 0,
        ),
      ],
      notes: [
        "progress runs on two nodes; the other one takes the calls while the stopping node finishes its in-flight work.",
      ],
      details: { load, window, database: db },
    };
  },
};
