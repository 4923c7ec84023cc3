import amqp from "amqplib";
import { BROKER_DELIVERY_LIMIT, topologyNames } from "../../lib/events/amqp-transport";
import { readiness } from "../../lib/health";
import { uniqueName } from "../support/isolation";
import {
  consumerService,
  drainQueue,
  effectsOf,
  emitManyUserCreated,
  emitUserCreated,
  FAST,
  producerService,
  serviceOf,
  sleep,
  waitFor,
} from "./events.helpers";
import { AMQP, amqpEventsKit, RETRY } from "./events-amqp.kit";

/**
 * The broker side of durable events on the real RabbitMQ: the queue arguments of every
 * hop, a queue declared with other arguments, deliveries lost with their connection, and
 * replaying dead letters older than the processed-id retention.
 */

const { node, isolate, proxy, afterTest } = amqpEventsKit("lm_events_broker", "evb");

async function channel(): Promise<amqp.Channel> {
  const connection = await amqp.connect(AMQP);
  afterTest(() => connection.close());
  const ch = await connection.createChannel();
  ch.on("error", () => undefined);
  return ch;
}

/** Whether the queue exists with exactly these arguments (a redeclare with others is refused). */
async function hasArguments(queue: string, args: Record<string, unknown>): Promise<boolean> {
  const ch = await channel();
  try {
    await ch.assertQueue(queue, { durable: true, arguments: args });
    return true;
  } catch {
    return false;
  }
}

describe("durable events: the broker side", () => {
  test("when a group is declared, then its queue, delay queues and DLQ are quorum queues whose dead-lettering is at-least-once", async () => {
    const group = uniqueName("args").toLowerCase();
    const ns = isolate([group]);
    await node("c", ns, [consumerService(group)]);
    const names = topologyNames(ns, group, RETRY);
    const atLeastOnce = {
      "x-queue-type": "quorum",
      "x-dead-letter-strategy": "at-least-once",
      "x-overflow": "reject-publish",
      "x-dead-letter-exchange": "",
    };
    expect(
      await hasArguments(names.queue, {
        ...atLeastOnce,
        "x-delivery-limit": BROKER_DELIVERY_LIMIT,
        "x-dead-letter-routing-key": names.dlq,
      }),
    ).toBe(true);
    for (const queue of names.retryQueues) {
      const delay = Number(/\.retry\.(\d+)ms$/.exec(queue)?.[1]);
      expect(
        await hasArguments(queue, {
          ...atLeastOnce,
          "x-message-ttl": delay,
          "x-dead-letter-routing-key": names.queue,
        }),
      ).toBe(true);
    }
    expect(await hasArguments(names.dlq, { "x-queue-type": "quorum" })).toBe(true);
  });

  test("when a group's queue exists with other arguments, then readiness and the log name the queue and the argument, and the node's other groups and producer run on", async () => {
    const stale = uniqueName("stale").toLowerCase();
    const fine = uniqueName("fine").toLowerCase();
    const ns = isolate([stale, fine]);
    // As an older release left it: a quorum queue with a delivery limit of 10 and no strategy.
    const ch = await channel();
    const queue = topologyNames(ns, stale, RETRY).queue;
    await ch.assertQueue(queue, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-delivery-limit": 10 },
    });

    const n = await node("n", ns, [
      consumerService(stale),
      consumerService(fine),
      producerService(`${fine}_p`),
    ]);
    const check = (await readiness(n)).checks.amqp;
    expect(check.status).toBe("fail");
    expect(JSON.stringify(check)).toContain(`queue ${queue} exists with another x-`);
    // The other group consumes what the producer on the same node emits.
    const event = await emitUserCreated(serviceOf(n, `${fine}_p`));
    await waitFor(
      async () => (await effectsOf(serviceOf(n, fine), fine)).length === 1,
      10_000,
      "the other group's effect",
    );
    expect((await effectsOf(serviceOf(n, fine), fine)).map(e => e.event_id)).toEqual([event.id]);
  });

  test("when the consumer's connection closes again and again under load, then no applied event is dead-lettered and every event is applied once", async () => {
    const group = uniqueName("closes").toLowerCase();
    const ns = isolate([group]);
    const link = await proxy();
    const opts = { ...FAST, redeliveryLimit: 2, prefetch: 100, maxBatch: 10 };
    const c = await node(
      "c",
      ns,
      [consumerService(group, { before: () => sleep(20) }, opts)],
      link.urlFor(AMQP),
    );
    const p = await node("p", ns, [producerService(`${group}_p`)]);
    const sent = await emitManyUserCreated(serviceOf(p, `${group}_p`), 200);
    // More connection losses than the redelivery limit, each with a window of deliveries
    // unacked (some applied, some never started).
    for (let i = 0; i < 6; i++) {
      await waitFor(
        async () => (await readiness(c)).checks.amqp.status === "ok",
        10_000,
        "the consumer back",
      );
      await sleep(100);
      link.cut();
      await sleep(50);
      link.restore();
    }
    await waitFor(
      async () =>
        new Set((await effectsOf(serviceOf(c, group), group)).map(e => e.event_id)).size === 200,
      30_000,
      "all 200 applied",
    );
    const effects = await effectsOf(serviceOf(c, group), group);
    expect(effects).toHaveLength(200);
    expect(new Set(effects.map(e => e.event_id))).toEqual(new Set(sent.map(e => e.id)));
    expect(await drainQueue(AMQP, topologyNames(ns, group, RETRY).dlq)).toEqual([]);
  });

  test("when a dead letter is older than the processed-id retention, then replay leaves it in the DLQ and replays the others", async () => {
    const group = uniqueName("old").toLowerCase();
    const ns = isolate([group]);
    const c = await node("c", ns, [consumerService(group)]);
    const names = topologyNames(ns, group, RETRY);
    const ch = await channel();
    const dead = (occurredAt: string, name: string) =>
      Buffer.from(
        JSON.stringify({
          id: crypto.randomUUID(),
          type: "user.created",
          version: 1,
          occurredAt,
          producer: "test",
          data: {
            userId: `u-${name}`,
            email: `${name}@example.test`,
            name,
            timezone: "UTC",
            verificationToken: "x",
          },
        }),
      );
    const old = dead(new Date(Date.now() - 40 * 24 * 3600_000).toISOString(), "old");
    const recent = dead(new Date().toISOString(), "recent");
    ch.sendToQueue(names.dlq, old, { persistent: true });
    ch.sendToQueue(names.dlq, recent, { persistent: true });
    await waitFor(async () => (await ch.checkQueue(names.dlq)).messageCount === 2, 5000, "the DLQ");

    await expect(c.call(`${group}.replayDeadLetters`, {})).resolves.toEqual({
      replayed: 1,
      refused: 1,
    });
    await waitFor(
      async () => (await effectsOf(serviceOf(c, group), group)).length === 1,
      5000,
      "the recent one applied",
    );
    const left = await drainQueue(AMQP, names.dlq);
    expect(left.map(m => JSON.parse(m.content.toString()).data.name)).toEqual(["old"]);
    expect(left[0].properties.headers?.["x-replay-refused"]).toMatch(/retention/);
  });
});
