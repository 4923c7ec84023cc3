import { check, type Drill } from "../drill";
import { call, learnerEmail, register } from "../http";
import { runLoad, summarize } from "../load";
import { round } from "../util";

const CUT_AT_MS = 5_000;
const OUTAGE_MS = 5_000;
/** An answer slower than this during the outage counts as a hung request. */
const HUNG_MS = 2_000;

/** Drill 6: NATS unreachable for 5 s: quick 503s, no hung requests, back within 10 s, no exits. */
export const natsOutageDrill: Drill = {
  id: 6,
  name: "NATS unreachable for 5 s",
  async run({ cluster, log }) {
    const proxy = cluster.proxies.nats;
    if (!proxy) throw new Error("no NATS proxy");
    const reply = await register(cluster.apiUrl, learnerEmail(`nats-${cluster.namespace}`, 0));
    const token = (reply.body as { accessToken: string }).accessToken;
    const paths = ["/courses?level=A1", "/leaderboard?period=weekly", "/me"];
    log(`25 s of reads (8 connections); NATS cut from 5 s to 10 s`);
    const run = await runLoad({
      durationMs: 25_000,
      concurrency: 8,
      send: i => call(cluster.apiUrl, "GET", paths[i % paths.length], { token, timeoutMs: 15_000 }),
      ok: r => r.status === 200,
      at: [
        { ms: CUT_AT_MS, run: () => proxy.cut() },
        { ms: CUT_AT_MS + OUTAGE_MS, run: () => proxy.restore() },
      ],
    });
    const [cut, restored] = run.marks;
    const during = run.samples.filter(s => s.startMs >= cut && s.startMs < restored);
    const outage = summarize(during);
    const hung = during.filter(s => s.endMs - s.startMs > HUNG_MS).length;
    // Requests in flight when the cut came count too: they must not hang either.
    const straddling = run.samples.filter(s => s.startMs < cut && s.endMs > cut);
    const hungStraddling = straddling.filter(s => s.endMs - cut > HUNG_MS).length;
    const failedAfter = run.samples.filter(s => !s.ok && s.endMs > restored);
    const lastFailure = failedAfter.length ? Math.max(...failedAfter.map(s => s.endMs)) : restored;
    const resumeSeconds = round((lastFailure - restored) / 1000);
    const tail = run.samples.filter(
      s => s.startMs > run.samples[run.samples.length - 1].startMs - 3000,
    );
    const resumed = tail.length > 0 && tail.every(s => s.ok);
    const crashed = cluster.crashed();
    const fiveOhThree = outage.statuses["503"] ?? 0;
    return {
      checks: [
        check("requests during the outage", outage.requests),
        check(
          "answered 503",
          `${fiveOhThree} of ${outage.requests}`,
          "all failures 503",
          fiveOhThree === outage.failed,
        ),
        check(
          "slowest answer during the outage",
          outage.max,
          `≤ ${HUNG_MS} ms`,
          outage.max <= HUNG_MS,
          "ms",
        ),
        check(
          "hung requests (> 2 s), incl. in flight at the cut",
          hung + hungStraddling,
          "0",
          hung + hungStraddling === 0,
        ),
        check(
          "seconds after NATS's return until no more failures",
          resumed ? resumeSeconds : "not resumed",
          "< 10 s",
          resumed && resumeSeconds < 10,
          "s",
        ),
        check("processes exited", crashed.length, "0", crashed.length === 0),
      ],
      notes: [
        "NATS is shared with other users of this machine, so it is not stopped: a TCP proxy between the nodes and it is cut (connections destroyed, new ones refused) for 5 s.",
      ],
      details: { outage, all: summarize(run.samples), inFlightAtCut: straddling.length },
    };
  },
};
