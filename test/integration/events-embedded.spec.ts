import type { ServiceBroker } from "moleculer";
import { QueryTypes } from "sequelize";
import { EVENT_METRICS } from "../../lib/events/metrics";
import {
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import {
  consumerService,
  effectsOf,
  emitManyUserCreated,
  emitUserCreated,
  FAST,
  outboxOf,
  producerService,
  serviceOf,
  sleep,
  startEventsNode,
  waitFor,
} from "../integration/events.helpers";

/**
 * The embedded default (AMQP_URL unset): the outbox relays to the in-process bus of
 * the namespace, with the same at-least-once, retry and dead-letter behaviour. The
 * first test runs on the embedded PGlite store, as `npm start` with no variables does;
 * the others on a real PostgreSQL database to keep them quick.
 */

let db: TestDatabase;
let brokers: ServiceBroker[] = [];

beforeAll(async () => {
  db = await createTestDatabase("lm_events_mem");
});

afterEach(async () => {
  await Promise.allSettled(brokers.map(broker => broker.stop()));
  brokers = [];
});

afterAll(async () => {
  await db?.drop();
});

async function node(
  opts: Omit<Parameters<typeof startEventsNode>[0], "databaseUrl"> & {
    databaseUrl?: string | null;
  },
) {
  const broker = await startEventsNode({
    ...opts,
    databaseUrl: opts.databaseUrl === null ? undefined : (opts.databaseUrl ?? db.url),
  });
  brokers.push(broker);
  return broker;
}

describe("durable events in process (embedded default)", () => {
  test("when everything runs on the embedded store, then an emitted event reaches the consumer with the envelope of events.md", async () => {
    const ns = uniqueName("mem");
    const seen: unknown[] = [];
    const broker = await node({
      namespace: ns,
      nodeID: "solo",
      databaseUrl: null,
      dataDir: tempDataDir(),
      services: [
        producerService("emb_producer"),
        consumerService("emb_consumer", { before: event => void seen.push(event) }),
      ],
    });
    const producer = serviceOf(broker, "emb_producer");
    const consumer = serviceOf(broker, "emb_consumer");

    const event = await emitUserCreated(producer, "ada");
    await waitFor(
      async () => (await effectsOf(consumer, "emb_consumer")).length === 1,
      15_000,
      "the effect",
    );

    expect(seen).toEqual([
      {
        id: event.id,
        type: "user.created",
        version: 1,
        occurredAt: event.occurredAt,
        producer: "emb_producer",
        requestId: "req-ada",
        data: {
          userId: "u-ada",
          email: "ada@example.test",
          name: "ada",
          timezone: "UTC",
          verificationToken: "x",
        },
      },
    ]);
    expect(event.id).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(new Date(event.occurredAt).toISOString()).toBe(event.occurredAt);
    await waitFor(
      async () => (await outboxOf(producer, "emb_producer"))[0]?.sent_at !== null,
      5000,
      "row marked sent",
    );
  });

  test("when an event is published before its consumer has ever run, then its row stays unsent until a consumer in the process has it, and each group gets it once", async () => {
    const ns = uniqueName("mem");
    const producerName = `${uniqueName("early").toLowerCase()}_p`;
    // Only the producer so far, on a node meant to run notify and progress (which consume
    // user.created): it declares their groups.
    const p = await node({
      namespace: ns,
      nodeID: "p",
      runs: "notify,progress",
      services: [producerService(producerName)],
    });
    const producer = serviceOf(p, producerName);
    const event = await emitUserCreated(producer);
    const rowOf = async () =>
      (
        await producer.sequelize.query<{ sent_at: Date | null; last_error: string | null }>(
          `SELECT sent_at, last_error FROM "${producerName}".outbox`,
          { type: QueryTypes.SELECT },
        )
      )[0];
    // Nothing in this process consumes it yet: the publish fails, the row waits.
    await waitFor(async () => (await rowOf())?.last_error != null, 5000, "a failed publish");
    expect(await rowOf()).toMatchObject({ sent_at: null });
    expect((await rowOf()).last_error).toMatch(/no consumer of (notify|progress)/);

    const c = await node({
      namespace: ns,
      nodeID: "c",
      runs: "progress",
      services: [consumerService("progress")],
    });
    const consumer = serviceOf(c, "progress");
    await waitFor(
      async () => (await effectsOf(consumer, "progress")).length === 1,
      15_000,
      "the waiting event",
    );
    // notify still has no consumer here: the row stays unsent, progress is not given it again.
    await sleep(1000);
    expect((await effectsOf(consumer, "progress")).map(e => e.event_id)).toEqual([event.id]);
    expect(await rowOf()).toMatchObject({ sent_at: null });
    expect((await rowOf()).last_error).toMatch(/no consumer of notify/);
  });

  test("when a handler fails twice and then succeeds, then it is retried with back-off and its effect happens once", async () => {
    const ns = uniqueName("mem");
    const group = uniqueName("retry").toLowerCase();
    const attempts: number[] = [];
    const broker = await node({
      namespace: ns,
      nodeID: "n1",
      services: [
        producerService(`${group}_p`),
        consumerService(group, {
          before: () => {
            attempts.push(Date.now());
            if (attempts.length <= 2) throw new Error(`transient failure ${attempts.length}`);
          },
        }),
      ],
    });
    const event = await emitUserCreated(serviceOf(broker, `${group}_p`));
    const consumer = serviceOf(broker, group);

    await waitFor(async () => (await effectsOf(consumer, group)).length === 1, 5000, "the effect");
    expect((await effectsOf(consumer, group)).map(e => e.event_id)).toEqual([event.id]);
    expect(attempts).toHaveLength(3);
    // Back-off: 50 ms, then 100 ms (FAST).
    expect(attempts[1] - attempts[0]).toBeGreaterThanOrEqual(45);
    expect(attempts[2] - attempts[1]).toBeGreaterThanOrEqual(95);
  });

  test("when a handler fails every attempt, then the event is dead-lettered after the delivery limit and the others are handled", async () => {
    const ns = uniqueName("mem");
    const group = uniqueName("dlq").toLowerCase();
    let poisonAttempts = 0;
    let cured = false;
    const broker = await node({
      namespace: ns,
      nodeID: "n1",
      services: [
        producerService(`${group}_p`),
        consumerService(group, {
          before: event => {
            if (event.data.name !== "poison" || cured) return;
            poisonAttempts++;
            throw new Error("always fails");
          },
        }),
      ],
    });
    const producer = serviceOf(broker, `${group}_p`);
    const consumer = serviceOf(broker, group);
    const good = [await emitUserCreated(producer, "g1"), await emitUserCreated(producer, "g2")];
    const poison = await emitUserCreated(producer, "poison");
    good.push(await emitUserCreated(producer, "g3"));

    // Kept in the consuming service's database: they outlive the process.
    const deadLettersOf = () =>
      consumer.sequelize.query<{ event_id: string; attempts: number; error: string }>(
        `SELECT event_id, attempts, error FROM "${group}".dead_letters`,
        { type: QueryTypes.SELECT },
      );
    await waitFor(async () => (await deadLettersOf()).length === 1, 5000, "the dead letter");
    await waitFor(
      async () => (await effectsOf(consumer, group)).length === 3,
      5000,
      "the good effects",
    );
    expect(new Set((await effectsOf(consumer, group)).map(e => e.event_id))).toEqual(
      new Set(good.map(e => e.id)),
    );
    expect(await deadLettersOf()).toEqual([
      { event_id: poison.id, attempts: FAST.maxAttempts, error: "always fails" },
    ]);
    expect(poisonAttempts).toBe(FAST.maxAttempts);
    // Dead-lettered is settled: the relay does not publish it again.
    await waitFor(
      async () => (await outboxOf(producer, `${group}_p`)).every(r => r.sent_at !== null),
      5000,
      "all rows sent",
    );

    // Once the cause is fixed, an operator replays the dead letters.
    cured = true;
    await expect(broker.call(`${group}.replayDeadLetters`, {})).resolves.toEqual({
      replayed: 1,
      refused: 0,
    });
    await waitFor(
      async () => (await effectsOf(consumer, group)).length === 4,
      5000,
      "the replayed effect",
    );
    await waitFor(async () => (await deadLettersOf()).length === 0, 5000, "the stored copy gone");
  });

  test("when two brokers of one namespace run the consuming service in one process, then each event is handled once", async () => {
    const ns = uniqueName("mem");
    const group = uniqueName("cg").toLowerCase();
    const slow = { before: () => new Promise<void>(resolve => setTimeout(resolve, 10)) };
    const a = await node({
      namespace: ns,
      nodeID: "a",
      services: [consumerService(group, slow, { ...FAST, prefetch: 2 })],
    });
    await node({
      namespace: ns,
      nodeID: "b",
      services: [consumerService(group, slow, { ...FAST, prefetch: 2 })],
    });
    const p = await node({ namespace: ns, nodeID: "p", services: [producerService(`${group}_p`)] });

    const sent = await emitManyUserCreated(serviceOf(p, `${group}_p`), 30);
    const consumer = serviceOf(a, group);
    await waitFor(
      async () => (await effectsOf(consumer, group)).length >= 30,
      10_000,
      "30 effects",
    );
    await new Promise(resolve => setTimeout(resolve, 200));
    const effects = await effectsOf(consumer, group);
    expect(effects).toHaveLength(30);
    expect(new Set(effects.map(e => e.event_id))).toEqual(new Set(sent.map(e => e.id)));
    expect(new Set(effects.map(e => e.node))).toEqual(new Set(["a", "b"]));
  });

  test("when the node stops before an event was handled, then the event stays in the outbox and is delivered after a restart", async () => {
    const ns = uniqueName("mem");
    const group = uniqueName("restart").toLowerCase();
    let failures = 0;
    const slowRetry = {
      ...FAST,
      retryBaseDelayMs: 60_000,
      retryMaxDelayMs: 60_000,
      leaseMs: 300,
      pollIntervalMs: 100,
    };
    const first = await node({
      namespace: ns,
      nodeID: "n1",
      services: [
        producerService(`${group}_p`, slowRetry),
        consumerService(
          group,
          {
            before: () => {
              failures++;
              throw new Error("not now");
            },
          },
          slowRetry,
        ),
      ],
    });
    const event = await emitUserCreated(serviceOf(first, `${group}_p`));
    await waitFor(() => failures === 1, 5000, "the first failed attempt");
    await first.stop();
    brokers = brokers.filter(b => b !== first);

    const second = await node({
      namespace: ns,
      nodeID: "n2",
      services: [producerService(`${group}_p`, slowRetry), consumerService(group, {}, slowRetry)],
    });
    const producer = serviceOf(second, `${group}_p`);
    const rows = await outboxOf(producer, `${group}_p`);
    expect(rows).toEqual([{ id: event.id, sent_at: null }]);

    const consumer = serviceOf(second, group);
    await waitFor(
      async () => (await effectsOf(consumer, group)).length === 1,
      5000,
      "delivery after restart",
    );
    expect((await effectsOf(consumer, group)).map(e => e.event_id)).toEqual([event.id]);
    await waitFor(
      async () => (await outboxOf(producer, `${group}_p`))[0].sent_at !== null,
      5000,
      "row marked sent",
    );
  });

  test("when emitDurable is called without a transaction, then it is refused and nothing is written", async () => {
    const ns = uniqueName("mem");
    const name = `${uniqueName("notx").toLowerCase()}_p`;
    const p = await node({ namespace: ns, nodeID: "p", services: [producerService(name)] });
    const producer = serviceOf(p, name);
    await expect(producer.emitDurable("user.email_verified", { userId: "u-1" })).rejects.toThrow(
      /needs \{ transaction \}/,
    );
    expect(await outboxOf(producer, name)).toEqual([]);
  });

  test("when an event cannot be published maxPublishAttempts times, then its row is parked and counted, and an operator can retry it", async () => {
    const ns = uniqueName("mem");
    const name = `${uniqueName("park").toLowerCase()}_p`;
    // The node runs notify, but no notify consumer joins: every publish fails.
    const p = await node({
      namespace: ns,
      nodeID: "p",
      runs: "notify",
      services: [producerService(name, { ...FAST, maxPublishAttempts: 3 })],
    });
    const producer = serviceOf(p, name);
    await emitUserCreated(producer);
    const parkedOf = async () =>
      (
        await producer.sequelize.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM "${name}".outbox WHERE parked_at IS NOT NULL AND sent_at IS NULL`,
          { type: QueryTypes.SELECT },
        )
      )[0].n;
    await waitFor(async () => (await parkedOf()) === 1, 20_000, "the row parked");
    // The gauge is set once the relay has counted the parked rows, just after it parked them.
    await waitFor(
      async () => p.metrics.getMetric(EVENT_METRICS.parked)?.get({ service: name })?.value === 1,
      5_000,
      "the parked gauge at 1",
    );
    await expect(p.call(`${name}.retryParkedEvents`, {})).resolves.toEqual({ retried: 1 });
    expect(await parkedOf()).toBe(0);
  });
});
