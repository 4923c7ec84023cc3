import { check, type Drill } from "../drill";
import { learnerEmail, register } from "../http";
import { runLoad } from "../load";
import { round, sleep, waitFor } from "../util";

const CUT_AT_MS = 5_000;
const OUTAGE_MS = 10_000;

/** Drill 4: RabbitMQ unreachable for 10 s while users register; the outbox loses nothing. */
export const rabbitOutageDrill: Drill = {
  id: 4,
  name: "RabbitMQ unreachable for 10 s while users register",
  async run({ cluster, smtp, log }) {
    const proxy = cluster.proxies.amqp;
    if (!proxy) throw new Error("no AMQP proxy");
    const tag = `outbox-${cluster.namespace}`;
    const registered: string[] = [];
    /** Registered while RabbitMQ was away: their events waited in the outbox. */
    const outageEmails: string[] = [];
    let cutNow = false;
    let restoredAt = 0;
    log(`registering users (4 at a time) for 25 s; RabbitMQ cut from 5 s to 15 s`);
    const run = await runLoad({
      durationMs: 25_000,
      concurrency: 4,
      send: async i => {
        const email = learnerEmail(tag, i);
        const during = cutNow;
        const reply = await register(cluster.apiUrl, email);
        if (reply.status === 201) {
          registered.push(email);
          if (during && cutNow) outageEmails.push(email);
        }
        return reply;
      },
      ok: reply => reply.status === 201,
      at: [
        {
          ms: CUT_AT_MS,
          run: () => {
            proxy.cut();
            cutNow = true;
          },
        },
        {
          ms: CUT_AT_MS + OUTAGE_MS,
          run: () => {
            proxy.restore();
            cutNow = false;
            restoredAt = Date.now();
          },
        },
      ],
    });
    const duringOutage = outageEmails.length;
    const failedRegistrations = run.samples.filter(s => !s.ok).length;
    log(
      `${registered.length} registered (${duringOutage} during the outage); waiting for their mails`,
    );
    const delivered = await waitFor(() => smtp.tally(registered).missing === 0, 60_000, 500);
    // The outbox's part: when the last event committed during the outage was delivered.
    const last = smtp.lastArrivalFor(new Set(outageEmails));
    const secondsAfterReturn = round((last - restoredAt) / 1000);
    await sleep(3000);
    const tally = smtp.tally(registered);
    // Rows are marked sent after RabbitMQ confirms them: give the relay's last pass a moment.
    const unsentNow = async () =>
      Number(
        (
          await cluster.sql<{ n: string }>(
            `SELECT count(*) AS n FROM users.outbox WHERE sent_at IS NULL`,
          )
        )[0].n,
      );
    await waitFor(async () => (await unsentNow()) === 0, 30_000, 500);
    const [db] = await cluster.sql<{ unsent: string; consumed: string }>(
      `SELECT (SELECT count(*) FROM users.outbox WHERE sent_at IS NULL) AS unsent,
              (SELECT count(*) FROM notify.processed_events WHERE event_type = 'user.created') AS consumed`,
    );
    const lost = tally.missing;
    return {
      checks: [
        check("users registered", registered.length),
        check("registered during the outage", duringOutage),
        check("failed registrations", failedRegistrations, "0", failedRegistrations === 0),
        check("events lost (user.created without its welcome mail)", lost, "0", lost === 0),
        check("duplicate mails", tally.duplicated, "0", tally.duplicated === 0),
        check(
          "seconds after RabbitMQ's return until the outage's last event was delivered",
          delivered ? secondsAfterReturn : "not all delivered",
          "≤ 30 s",
          delivered && secondsAfterReturn <= 30,
          delivered ? "s" : undefined,
        ),
        check("outbox rows still unsent", Number(db.unsent), "0", Number(db.unsent) === 0),
      ],
      notes: [
        "RabbitMQ itself is shared with other users of this machine, so it is not stopped: a TCP proxy between the nodes and it is cut (open connections destroyed, new ones refused) for 10 s.",
      ],
      details: { userCreatedConsumedInTotal: Number(db.consumed), tally },
    };
  },
};
