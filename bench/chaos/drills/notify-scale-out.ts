import amqp from "amqplib";
import type { Cluster, NodeSpec } from "../cluster";
import { check, type OwnClusterDrill } from "../drill";
import { learnerEmail } from "../http";
import { onOwnCluster } from "../own-cluster";
import { round, sleep, waitFor } from "../util";

const EVENTS = 50_000;
/** Inserted into users' outbox in transactions of this many rows. */
const BATCH = 5_000;
/** A second notify node is started once this many events are handled, a third at the next. */
const SCALE_AT = [12_500, 27_500];
const NOTIFY: NodeSpec[] = [1, 2, 3].map(n => ({ name: `notify-${n}`, services: ["notify"] }));

interface Phase {
  consumers: number;
  seconds: number;
  events: number;
  mails: number;
}

async function handled(cluster: Cluster): Promise<number> {
  const [row] = await cluster.sql<{ n: string }>(
    `SELECT count(*) AS n FROM notify.processed_events WHERE event_type = 'user.created'`,
  );
  return Number(row.n);
}

/**
 * `count` user.created envelopes (events.md) committed into users' outbox in SQL, as the
 * users service commits them: its relay publishes them like any other.
 */
async function commitUserCreated(cluster: Cluster, tag: string, count: number): Promise<void> {
  // learnerEmail(tag, i) is `<tag>-<i>@<domain>`: the same addresses, made by PostgreSQL.
  const [local, domain] = learnerEmail(tag, 0).split("0@");
  for (let from = 0; from < count; from += BATCH) {
    await cluster.sql(
      `INSERT INTO users.outbox (id, type, payload, created_at)
       SELECT id, 'user.created', jsonb_build_object(
         'id', id, 'type', 'user.created', 'version', 1, 'producer', 'users',
         'occurredAt', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
         'data', jsonb_build_object(
           'userId', gen_random_uuid(), 'email', $1 || g || '@' || $2, 'name', 'Learner ' || g,
           'timezone', 'UTC', 'verificationToken', md5(random()::text), 'sequence', 1)), now()
       FROM (SELECT gen_random_uuid() AS id, g FROM generate_series($3::int, $4::int) AS g) AS rows`,
      [local, domain, from, Math.min(count, from + BATCH) - 1],
    );
  }
}

/**
 * Drill 16: 50 000 user.created events waiting in notify's queue; one notify node drains it,
 * a second and a third join while it does: the drain rate with 1, 2 and 3 consumers, and one
 * welcome mail per event at the drill's SMTP sink.
 */
export const notifyScaleOutDrill: OwnClusterDrill = {
  id: 16,
  name: "scale notify out from 1 to 3 nodes under a backlog of 50 000 events",
  ownCluster: true,
  limitMs: 12 * 60_000,
  async run(ctx) {
    return onOwnCluster(
      ctx,
      {
        tag: "drill-16",
        nodes: [
          { name: "api", services: ["api"] },
          { name: "content", services: ["content"] },
          { name: "users", services: ["users"] },
          NOTIFY[0],
        ],
      },
      async cluster => {
        if (!cluster.vhostUrl) throw new Error("the drill needs the cluster's own vhost");
        const queue = `${cluster.namespace}.notify`;
        const tag = `scale-${cluster.namespace}`;
        const emails = Array.from({ length: EVENTS }, (_, i) => learnerEmail(tag, i));
        const connection = await amqp.connect(cluster.vhostUrl, { timeout: 5000 });
        try {
          const channel = await connection.createChannel();
          const depth = async () => (await channel.checkQueue(queue)).messageCount;
          // notify declared its queue at start; with it stopped, the events wait there.
          await cluster.kill("notify-1", "SIGTERM");
          ctx.log(`notify stopped; committing ${EVENTS} user.created events into users' outbox`);
          const t0 = performance.now();
          await commitUserCreated(cluster, tag, EVENTS);
          const queued = await waitFor(async () => (await depth()) >= EVENTS, 180_000, 500);
          const relaySeconds = round((performance.now() - t0) / 1000, 1);
          const backlog = await depth();
          ctx.log(`${backlog} events in ${queue} after ${relaySeconds} s; starting notify-1`);
          if (!queued) throw new Error(`only ${backlog} of ${EVENTS} events reached ${queue}`);

          const phases: Phase[] = [];
          const mailsNow = () => ctx.smtp.mails.length;
          let phaseStart = { at: 0, events: 0, mails: 0 };
          const close = async (consumers: number) => {
            const now = {
              at: performance.now(),
              events: await handled(cluster),
              mails: mailsNow(),
            };
            if (phaseStart.at) {
              phases.push({
                consumers,
                seconds: round((now.at - phaseStart.at) / 1000),
                events: now.events - phaseStart.events,
                mails: now.mails - phaseStart.mails,
              });
            }
            phaseStart = now;
          };
          const mailsBefore = mailsNow();
          for (let n = 0; n < NOTIFY.length; n++) {
            await cluster.startNode(NOTIFY[n]);
            await close(n);
            const target = SCALE_AT[n] ?? EVENTS;
            const reached = await waitFor(
              async () => (await handled(cluster)) >= target,
              240_000,
              250,
            );
            ctx.log(
              `${n + 1} notify node(s): ${await handled(cluster)} of ${EVENTS} handled${reached ? "" : " (stalled)"}`,
            );
            if (!reached) break;
          }
          await close(NOTIFY.length);
          const delivered = await waitFor(() => mailsNow() - mailsBefore >= EVENTS, 180_000, 500);
          // A duplicate would come late (a redelivery): keep listening a little longer.
          await sleep(5000);
          const tally = ctx.smtp.tally(emails);
          const left = await depth();
          const dead = (await channel.checkQueue(`${queue}.dlq`)).messageCount;
          const total = await handled(cluster);
          const rate = (consumers: number) => {
            const phase = phases.find(p => p.consumers === consumers);
            return phase && phase.seconds > 0
              ? round(phase.events / phase.seconds, 0)
              : "not reached";
          };
          const mailRate = (consumers: number) => {
            const phase = phases.find(p => p.consumers === consumers);
            return phase && phase.seconds > 0
              ? round(phase.mails / phase.seconds, 0)
              : "not reached";
          };
          await channel.close();
          return {
            checks: [
              check("events queued for notify", backlog, String(EVENTS), backlog >= EVENTS),
              check("events handled (processed_events)", total, String(EVENTS), total === EVENTS),
              check("drain rate, 1 consumer", rate(1), undefined, undefined, "events/s"),
              check("drain rate, 2 consumers", rate(2), undefined, undefined, "events/s"),
              check("drain rate, 3 consumers", rate(3), undefined, undefined, "events/s"),
              check(
                "mails sent per second, 1 / 2 / 3 consumers",
                `${mailRate(1)} / ${mailRate(2)} / ${mailRate(3)}`,
              ),
              check(
                "events with exactly one welcome mail",
                tally.exactlyOne,
                String(EVENTS),
                tally.exactlyOne === EVENTS,
              ),
              check("events with no mail", tally.missing, "0", delivered && tally.missing === 0),
              check(
                "events with more than one mail",
                tally.duplicated,
                "0",
                tally.duplicated === 0,
              ),
              check(
                "left in the queue / dead-lettered",
                `${left} / ${dead}`,
                "0 / 0",
                left === 0 && dead === 0,
              ),
            ],
            notes: [
              `The events are user.created envelopes committed in SQL into users' outbox (${EVENTS / BATCH} transactions of ${BATCH}) with notify stopped; users' relay published them to notify's quorum queue in ${relaySeconds} s.`,
              "A phase runs from one notify node's readiness to the next one's; its rate is the rows added to notify.processed_events over its length. Mails go over SMTP to the harness's smtp-server, counted per recipient.",
              "Everything shares 2 cores: PostgreSQL, RabbitMQ, the SMTP sink and every node.",
            ],
            details: { phases, relaySeconds, tally },
          };
        } finally {
          await connection.close().catch(() => undefined);
        }
      },
    );
  },
};
