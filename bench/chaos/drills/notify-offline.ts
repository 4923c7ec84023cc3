import { check, type Drill } from "../drill";
import { learnerEmail, register } from "../http";
import { mapLimit, round, sleep, waitFor } from "../util";

const USERS = 1000;

/** Drill 3: stop notify, register 1 000 users, start it: one welcome mail each, no more. */
export const notifyOfflineDrill: Drill = {
  id: 3,
  name: "notify stopped while 1 000 users register, then started",
  async run({ cluster, smtp, log }) {
    const notify = cluster.node("notify");
    log(`stopping notify (SIGTERM)`);
    await cluster.kill("notify", "SIGTERM");

    const tag = `welcome-${cluster.namespace}`;
    const emails = Array.from({ length: USERS }, (_, i) => learnerEmail(tag, i));
    log(`registering ${USERS} users (8 at a time) with notify down`);
    const t0 = performance.now();
    const statuses = await mapLimit(
      emails,
      8,
      async email => (await register(cluster.apiUrl, email)).status,
    );
    const registerSeconds = (performance.now() - t0) / 1000;
    const registered = emails.filter((_, i) => statuses[i] === 201);
    const failedRegistrations = USERS - registered.length;
    log(
      `${registered.length} registered in ${registerSeconds.toFixed(1)} s; mails so far: ${smtp.tally(registered).exactlyOne}`,
    );
    const mailsWhileDown = registered.length - smtp.tally(registered).missing;

    log(`starting notify`);
    const started = performance.now();
    await cluster.startNode(notify.spec);
    const readySeconds = round((performance.now() - started) / 1000, 1);
    const startedAt = Date.now();
    const delivered = await waitFor(() => smtp.tally(registered).missing === 0, 240_000, 500);
    const lastArrival = smtp.lastArrivalFor(new Set(registered));
    const deliverSeconds = delivered ? round((lastArrival - startedAt) / 1000) : -1;
    // A duplicate would come late (a redelivery): keep listening a little longer.
    await sleep(5000);
    const tally = smtp.tally(registered);
    const [events] = await cluster.sql<{ processed: string; pending: string }>(
      `SELECT (SELECT count(*) FROM notify.processed_events WHERE event_type = 'user.created') AS processed,
              (SELECT count(*) FROM users.outbox WHERE sent_at IS NULL) AS pending`,
    );
    return {
      checks: [
        check("users registered", registered.length, String(USERS), registered.length === USERS),
        check(
          "registrations per second (notify down)",
          round(registered.length / registerSeconds, 1),
        ),
        check("mails while notify was down", mailsWhileDown, "0", mailsWhileDown === 0),
        check(
          "users with exactly one welcome mail",
          tally.exactlyOne,
          String(registered.length),
          tally.exactlyOne === registered.length,
        ),
        check("users with no mail", tally.missing, "0", tally.missing === 0),
        check("users with more than one mail", tally.duplicated, "0", tally.duplicated === 0),
        check(
          "seconds from notify start to the last mail",
          deliverSeconds,
          undefined,
          undefined,
          "s",
        ),
      ],
      notes: [
        "Mail goes over real SMTP to an smtp-server on a loopback port in the harness; mails are counted per recipient.",
        `notify took ${readySeconds} s from spawn to ready; delivery time counts from then.`,
      ],
      details: {
        failedRegistrations,
        registerSeconds: round(registerSeconds, 1),
        userCreatedProcessed: Number(events.processed),
        outboxUnsent: Number(events.pending),
        tally,
      },
    };
  },
};
