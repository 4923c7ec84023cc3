import { QueryTypes, Sequelize, type Transaction } from "sequelize";
import { BatchingRunner, type TransactionRunner } from "../../lib/events/consumer-runner";
import { createEnvelope } from "../../lib/events/envelope";
import { OutboxStore } from "../../lib/events/outbox-store";
import type { EventEnvelope } from "../../models/events.model";
import { createTestDatabase, uniqueName, type TestDatabase } from "../support/isolation";
import { requireServers } from "../support/servers";

/**
 * The consumer side of durable events handles events that arrive together in one
 * transaction (lib/events/consumer-runner.ts): these tests hold it to the same outcome as
 * one transaction per event — every effect once, a failing event failing alone.
 */

let db: TestDatabase;
let sequelize: Sequelize;
let store: OutboxStore;
let schema: string;

const updated = (userId: string, name: string) =>
  createEnvelope("user.updated", { userId, name, timezone: "UTC" }, { producer: "users" });

beforeAll(async () => {
  await requireServers("postgres");
  db = await createTestDatabase("lm_events_batch");
  sequelize = new Sequelize(db.url, { logging: false });
  schema = uniqueName("batch").toLowerCase();
  store = new OutboxStore(sequelize, schema);
  await store.ensureTables();
  await sequelize.query(
    `CREATE TABLE "${schema}".effects (event_id uuid, user_id text, name text)`,
  );
});

afterAll(async () => {
  await sequelize?.close();
  await db?.drop();
});

const transaction: TransactionRunner = fn => sequelize.transaction(t => fn(t));

async function effects(): Promise<Array<{ event_id: string; name: string }>> {
  return sequelize.query(`SELECT event_id, name FROM "${schema}".effects ORDER BY name`, {
    type: QueryTypes.SELECT,
  });
}

function runner(opts: {
  consumer: string;
  onEvent?: (event: EventEnvelope<"user.updated">) => void;
  transactions?: { count: number };
  batch?: (events: EventEnvelope<"user.updated">[], t: Transaction) => Promise<void>;
}) {
  const calls: string[] = [];
  const counted: TransactionRunner = fn => {
    if (opts.transactions) opts.transactions.count++;
    return transaction(fn);
  };
  const r = new BatchingRunner<unknown>({
    store,
    consumer: opts.consumer,
    self: {},
    transaction: counted,
    maxBatch: 50,
    handlers: {
      async "user.updated"(event, t) {
        calls.push(event.data.name);
        opts.onEvent?.(event);
        await sequelize.query(`INSERT INTO "${schema}".effects VALUES (:id, :user, :name)`, {
          replacements: { id: event.id, user: event.data.userId, name: event.data.name },
          transaction: t,
        });
      },
    },
    batchHandlers: opts.batch ? { "user.updated": opts.batch } : undefined,
  });
  return { r, calls };
}

beforeEach(async () => {
  await sequelize.query(`TRUNCATE "${schema}".effects, "${schema}".processed_events`);
});

test("when events arrive together, then one transaction handles them all, each once", async () => {
  const transactions = { count: 0 };
  const { r, calls } = runner({ consumer: "c1", transactions });
  const events = Array.from({ length: 20 }, (_, i) => updated(`u${i}`, `n${i}`));
  const outcomes = await Promise.all(events.map(e => r.handle(e)));
  expect(outcomes.every(o => o === "handled")).toBe(true);
  expect(transactions.count).toBe(1);
  expect(calls).toHaveLength(20);
  expect(await effects()).toHaveLength(20);
});

test("when an event is delivered twice, in one batch or later, then its handler runs once", async () => {
  const { r, calls } = runner({ consumer: "c2" });
  const a = updated("u1", "a");
  const b = updated("u2", "b");
  expect(await Promise.all([r.handle(a), r.handle(a), r.handle(b)])).toEqual([
    "handled",
    "duplicate",
    "handled",
  ]);
  expect(await Promise.all([r.handle(a), r.handle(b)])).toEqual(["duplicate", "duplicate"]);
  expect(calls.sort()).toEqual(["a", "b"]);
  expect(await effects()).toHaveLength(2);
});

test("when one handler of a batch fails, then only that event fails, its handler ran once, and the others commit", async () => {
  const poison = updated("u9", "poison");
  const { r, calls } = runner({
    consumer: "c3",
    onEvent: e => {
      if (e.id === poison.id) throw new Error("cannot digest");
    },
  });
  const good = [updated("u1", "g1"), updated("u2", "g2"), updated("u3", "g3")];
  const results = await Promise.allSettled([
    r.handle(good[0]),
    r.handle(poison),
    r.handle(good[1]),
    r.handle(good[2]),
  ]);
  expect(results.map(x => x.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
  expect(calls.filter(name => name === "poison")).toHaveLength(1);
  expect((await effects()).map(e => e.name)).toEqual(["g1", "g2", "g3"]);
  // The failed event was not recorded as processed: its redelivery runs the handler again.
  await expect(r.handle(poison)).rejects.toThrow("cannot digest");
});

test("when a batch handler is declared, then a run of events goes through it; if it throws, each event goes through its own handler", async () => {
  const seen: number[] = [];
  const ok = runner({
    consumer: "c4",
    batch: async events => {
      seen.push(events.length);
    },
  });
  await Promise.all([updated("u1", "x"), updated("u2", "y")].map(e => ok.r.handle(e)));
  expect(seen).toEqual([2]);
  expect(ok.calls).toEqual([]);

  const failing = runner({
    consumer: "c5",
    batch: async () => {
      throw new Error("batch failed");
    },
  });
  const outcomes = await Promise.all(
    [updated("u1", "p"), updated("u2", "q")].map(e => failing.r.handle(e)),
  );
  expect(outcomes).toEqual(["handled", "handled"]);
  expect(failing.calls.sort()).toEqual(["p", "q"]);
});
