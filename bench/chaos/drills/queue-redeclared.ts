import amqp from "amqplib";
import { topologyNames } from "../../../lib/events/amqp-transport";
import { FAST } from "../../../test/integration/events.helpers";
import { check, type Drill } from "../drill";
import { labChecks, startEventsLab } from "../events-lab";
import { sleep, waitFor } from "../util";

const HALF = 10_000;
const GAP_MS = 1_000;
const RETRY = {
  maxAttempts: FAST.maxAttempts!,
  baseDelayMs: FAST.retryBaseDelayMs!,
  maxDelayMs: FAST.retryMaxDelayMs!,
};

/** Drill 8: a consumer queue deleted and re-declared while 20 000 events are published. */
export const queueRedeclaredDrill: Drill = {
  id: 8,
  name: "a consumer queue deleted and re-declared while 20 000 events are published",
  async run({ cluster, log }) {
    const lab = await startEventsLab(cluster.databaseUrl, "redeclare");
    const admin = await amqp.connect(lab.amqpUrl);
    admin.on("error", (err: Error) => log(`admin connection: ${err.message}`));
    try {
      const channel = await admin.createChannel();
      const queue = topologyNames(lab.namespace, lab.group, RETRY).queue;
      // The producer declares the catalog's groups for user.created ahead of their consumers:
      // with those queues left, RabbitMQ would still route the events somewhere.
      const byCatch = ["notify", "progress"].map(g => topologyNames(lab.namespace, g, RETRY).queue);
      log(`emitting ${HALF} events, then deleting ${queue} once it is empty`);
      const emitted = await lab.emit(HALF);
      const drained = await waitFor(
        async () =>
          (await lab.figures(emitted)).lost === 0 &&
          (await channel.checkQueue(queue)).messageCount === 0,
        180_000,
        500,
      );
      if (!drained) throw new Error("the first half was not consumed within 180 s");
      // The consumer is cut off so that it cannot declare its queue again at once; the queue
      // is deleted only if empty, so the deletion itself destroys no message.
      lab.consumerLink.cut();
      // (Quorum queues refuse if-empty deletes: the reply's count says what it destroyed.)
      const { messageCount: destroyed } = await channel.deleteQueue(queue);
      for (const q of byCatch) await channel.deleteQueue(q);
      const gapStart = Date.now();
      log(`queue deleted; emitting ${HALF} more, the consumer comes back after ${GAP_MS} ms`);
      const second = lab.emit(HALF);
      await sleep(GAP_MS);
      lab.consumerLink.restore();
      const gapMs = Date.now() - gapStart;
      emitted.push(...(await second));
      await waitFor(
        async () => {
          const f = await lab.figures(emitted);
          return f.lost === 0 && f.unsent === 0;
        },
        240_000,
        1000,
      );
      await sleep(2000);
      const f = await lab.figures(emitted);
      return {
        checks: [
          ...labChecks(f, emitted.length, lab.peakRssMb()),
          check("queue missing for", gapMs, undefined, undefined, "ms"),
          check("messages destroyed by the deletion itself", destroyed, "0", destroyed === 0),
        ],
        notes: [
          `${HALF} events are committed and consumed; the consumer's link is cut, its queue deleted (once consumed: the figure below checks that the deletion destroyed nothing) with the producer-declared catalog queues for user.created, ${HALF} more are committed, and the consumer's link returns after ${GAP_MS} ms, when it declares its queue again. Publishes during the gap are returned (mandatory) and stay unsent until the next relay pass after the queue is back.`,
          "Producer and consumer nodes run in the harness process on the drill's own RabbitMQ vhost; the RSS is the harness's.",
        ],
        details: { figures: f },
      };
    } finally {
      await admin.close().catch(() => undefined);
      await lab.stop();
    }
  },
};
