import { topologyNames } from "../../../lib/events/amqp-transport";
import { drainQueue, FAST } from "../../../test/integration/events.helpers";
import { check, type Drill } from "../drill";
import { labChecks, rabbitmqctl, startEventsLab } from "../events-lab";
import { percentile, sleep, waitFor } from "../util";

const EVENTS = 20_000;
const CLOSES = 15;
const APART_MS = 400;
const RETRY = {
  maxAttempts: FAST.maxAttempts!,
  baseDelayMs: FAST.retryBaseDelayMs!,
  maxDelayMs: FAST.retryMaxDelayMs!,
};

function eventIdOf(message: { content: Buffer; properties: { messageId?: unknown } }): string {
  if (typeof message.properties.messageId === "string") return message.properties.messageId;
  const body = JSON.parse(message.content.toString("utf8")) as { id?: unknown };
  return typeof body.id === "string" ? body.id : "";
}

/** Drill 10: 15 connection closes 400 ms apart under load; nothing applied is dead-lettered. */
export const connectionClosesDrill: Drill = {
  id: 10,
  name: "15 broker connection closes 400 ms apart while 20 000 events flow",
  async run({ cluster, log }) {
    const lab = await startEventsLab(cluster.databaseUrl, "closes");
    const vhost = decodeURIComponent(new URL(lab.amqpUrl).pathname.slice(1));
    try {
      log(`emitting ${EVENTS} events; closing every connection of vhost ${vhost} ${CLOSES} times`);
      const emitting = lab.emit(EVENTS, 250);
      let closes = 0;
      // The first close waits for a backlog to be in flight (the consumer's prefetch window).
      await waitFor(async () => (await lab.figures([])).consumed > 500, 60_000, 100);
      // One rabbitmqctl call takes about a second: the calls are started 400 ms apart and run
      // side by side, so their closes land about 400 ms apart (the times they returned are kept).
      const returnedAt: number[] = [];
      const calls: Array<Promise<void>> = [];
      for (let i = 0; i < CLOSES; i++) {
        calls.push(
          rabbitmqctl("close_all_connections", "-p", vhost, "chaos drill").then(() => {
            returnedAt.push(Date.now());
            closes++;
          }),
        );
        await sleep(APART_MS);
      }
      await Promise.all(calls);
      returnedAt.sort((a, b) => a - b);
      const gaps = returnedAt.slice(1).map((t, i) => t - returnedAt[i]);
      const emitted = await emitting;
      await waitFor(
        async () => {
          const f = await lab.figures(emitted);
          return f.lost === 0 && f.unsent === 0;
        },
        240_000,
        1000,
      );
      await sleep(3000);
      const f = await lab.figures(emitted);
      const dlq = await drainQueue(lab.amqpUrl, topologyNames(lab.namespace, lab.group, RETRY).dlq);
      const applied = new Set(
        (
          await cluster.sql<{ event_id: string }>(
            `SELECT DISTINCT event_id FROM "${lab.group}".effects`,
          )
        ).map(r => r.event_id),
      );
      const appliedDeadLettered = dlq.filter(m => applied.has(eventIdOf(m))).length;
      return {
        checks: [
          ...labChecks(f, emitted.length, lab.peakRssMb()),
          check("connection closes", closes),
          check(
            "median ms between closes returning",
            percentile(gaps, 50),
            undefined,
            undefined,
            "ms",
          ),
          check("dead-lettered messages", dlq.length),
          check(
            "dead-lettered messages that were applied",
            appliedDeadLettered,
            "0",
            appliedDeadLettered === 0,
          ),
        ],
        notes: [
          `${EVENTS} events are committed in transactions of 250; once 500 are consumed, \`rabbitmqctl close_all_connections -p <the drill's vhost>\` is started ${CLOSES} times ${APART_MS} ms apart (each call takes about a second, so they overlap and their closes land about ${APART_MS} ms apart; the median spacing of their returns is shown) (the producer's and the consumer's connections). The DLQ is read at the end and each message's event id looked up among the applied effects.`,
        ],
        details: { figures: f, deadLettered: dlq.length, gaps },
      };
    } finally {
      await lab.stop();
    }
  },
};
