import { QueryTypes, Sequelize, type Transaction } from "sequelize";
import {
  BatchingRunner,
  SwallowedDatabaseError,
  type TransactionRunner,
} from "../../lib/events/consumer-runner";
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
  maxBatch?: number;
  onEvent?: (event: EventEnvelope<"user.updated">) => void;
  /** Runs before the handler's insert; "done" skips it. */
  before?: (event: EventEnvelope<"user.updated">, t: Transaction) => Promise<"done" | undefined>;
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
    statement: (sql, t) => sequelize.query(sql, { transaction: t }),
    maxBatch: opts.maxBatch ?? 50,
    handlers: {
      async "user.updated"(event, t) {
        calls.push(event.data.name);
        opts.onEvent?.(event);
        if ((await opts.before?.(event, t)) === "done") return;
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

test("when 125 events of a batch of 250 fail, then every handler runs once in one transaction and the 125 others commit", async () => {
  const transactions = { count: 0 };
  const { r, calls } = runner({
    consumer: "c6",
    maxBatch: 250,
    transactions,
    onEvent: e => {
      if (e.data.name.startsWith("bad")) throw new Error("cannot digest");
    },
  });
  const events = Array.from({ length: 250 }, (_, i) =>
    updated(`u${i}`, i % 2 === 0 ? `good${i}` : `bad${i}`),
  );
  const results = await Promise.allSettled(events.map(e => r.handle(e)));
  // Before savepoints: 8 125 handler calls and 126 transactions.
  expect(calls).toHaveLength(250);
  expect(transactions.count).toBe(1);
  expect(results.filter(x => x.status === "rejected")).toHaveLength(125);
  const committed = await effects();
  expect(committed).toHaveLength(125);
  expect(committed.every(e => e.name.startsWith("good"))).toBe(true);
  const [processed] = await sequelize.query<{ n: string }>(
    `SELECT count(*) AS n FROM "${schema}".processed_events WHERE consumer = 'c6'`,
    { type: QueryTypes.SELECT },
  );
  expect(Number(processed.n)).toBe(125);
});

test("when a handler catches a database error and goes on, then its event fails and the rest of the batch commits", async () => {
  const swallower = updated("u5", "swallow");
  const { r } = runner({
    consumer: "c7",
    before: async (e, t) => {
      if (e.id !== swallower.id) return undefined;
      try {
        await sequelize.query(`SELECT * FROM "${schema}".no_such_table`, { transaction: t });
      } catch {
        // The bug under test: the error is dropped and the handler resolves.
      }
      return "done";
    },
  });
  const good = [updated("u1", "s1"), updated("u2", "s2")];
  const results = await Promise.allSettled([
    r.handle(good[0]),
    r.handle(swallower),
    r.handle(good[1]),
  ]);
  expect(results.map(x => x.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
  const failure = results[1];
  expect(failure.status === "rejected" && failure.reason).toBeInstanceOf(SwallowedDatabaseError);
  expect((await effects()).map(e => e.name)).toEqual(["s1", "s2"]);
  // Alone in its batch it fails the same way, instead of acking a commit that rolled back.
  await expect(r.handle(swallower)).rejects.toBeInstanceOf(SwallowedDatabaseError);
});

test("when a node starts beside one whose transaction holds outbox and processed-event rows, then its table set-up neither waits for it nor locks the tables", async () => {
  const running = await sequelize.transaction();
  try {
    await store.insert(updated("u-beside", "Ada"), running);
    await store.markProcessed("beside", updated("u-beside", "Ada"), running);
    // A second node's store on the same schema, while the first node's transaction is open.
    const starting = new OutboxStore(sequelize, schema);
    const outcome = await Promise.race([
      starting.ensureTables().then(() => "started"),
      new Promise(resolve => setTimeout(() => resolve("waited on the running node"), 5000)),
    ]);
    expect(outcome).toBe("started");
  } finally {
    await running.rollback();
  }
});
