import type { Service } from "moleculer";
import { QueryTypes, type Sequelize, type Transaction } from "sequelize";
import { v7 as uuidv7 } from "uuid";
import { BatchingRunner, type DurableEventHandlers } from "../../lib/events/consumer-runner";
import { createEnvelope } from "../../lib/events/envelope";
import { OutboxStore } from "../../lib/events/outbox-store";
import type { DurableEventBatchHandlers } from "../../mixins/durable-events.mixin";
import type { EventEnvelope } from "../../models/events.model";
import { startTestNode, type TestNode } from "../support/cluster";
import { createTestDatabase, uniqueName, type TestDatabase } from "../support/isolation";
import { requireServers, SERVERS } from "../support/servers";

/**
 * Events of one user in every order (events.md: a consumer ignores an event older than
 * what it applied, and keeps tombstones), through the real consumer runner of notify and
 * progress on PostgreSQL; and the same user's update and erasure handled at once on two
 * nodes of one service. Transports are in-process: the order is what the test gives.
 */

type UserEventType = "user.created" | "user.updated" | "user.deleted";
type Consumer = "notify" | "progress";

type DbService = Service & { sequelize: Sequelize };

interface ServiceHandle {
  service: DbService;
  handlers: DurableEventHandlers<DbService>;
  batchHandlers: DurableEventBatchHandlers<DbService>;
}

function handleOf(node: TestNode, name: Consumer): ServiceHandle {
  const service = node.broker.getLocalService(name) as DbService;
  const schema = service.schema as {
    durableEvents: DurableEventHandlers<DbService>;
    durableEventBatches?: DurableEventBatchHandlers<DbService>;
  };
  return {
    service,
    handlers: schema.durableEvents,
    batchHandlers: schema.durableEventBatches ?? {},
  };
}

/** created (1), renamed twice (2, 3) and, for a deleted user, deleted (4): each with its sequence. */
function historyOf(userId: string, deleted: boolean): EventEnvelope<UserEventType>[] {
  const source = { producer: "users" };
  const events: EventEnvelope<UserEventType>[] = [
    createEnvelope(
      "user.created",
      {
        userId,
        email: `order-${userId.slice(-8)}@example.test`,
        name: "Name 1",
        timezone: "UTC",
        verificationToken: `vt-${userId}`,
        sequence: 1,
      },
      source,
    ),
    createEnvelope(
      "user.updated",
      { userId, name: "Name 2", timezone: "Europe/Paris", sequence: 2 },
      source,
    ),
    createEnvelope(
      "user.updated",
      { userId, name: "Name 3", timezone: "Asia/Tokyo", sequence: 3 },
      source,
    ),
  ];
  if (deleted) events.push(createEnvelope("user.deleted", { userId, sequence: 4 }, source));
  return events;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map(rest => [item, ...rest]),
  );
}

/** The service's own handlers behind a consumer runner of its own (own processed ids). */
function runnerOf(handle: ServiceHandle, consumer: string): BatchingRunner<DbService> {
  const { sequelize } = handle.service;
  return new BatchingRunner({
    store: new OutboxStore(sequelize, handle.service.name),
    consumer,
    handlers: handle.handlers,
    batchHandlers: handle.batchHandlers,
    self: handle.service,
    transaction: fn => sequelize.transaction(fn),
    statement: (sql, t) => sequelize.query(sql, { transaction: t }),
    maxBatch: 250,
  });
}

let db: TestDatabase;
let notifyNodes: TestNode[] = [];
let progressNodes: TestNode[] = [];

async function rowsOf<T extends object>(
  handle: ServiceHandle,
  sql: string,
  replacements: Record<string, unknown>,
): Promise<T[]> {
  return handle.service.sequelize.query<T>(sql, { replacements, type: QueryTypes.SELECT });
}

/** What a service keeps of each user: name and time zone, or nothing (and no mail queued). */
async function finalStates(handle: ServiceHandle, userIds: string[]): Promise<Map<string, string>> {
  const table = handle.service.name === "notify" ? "recipients" : "learners";
  const kept = await rowsOf<{ user_id: string; name: string; timezone: string }>(
    handle,
    `SELECT user_id, name, timezone FROM ${handle.service.name}.${table} WHERE user_id IN (:userIds)`,
    { userIds },
  );
  const states = new Map(kept.map(r => [r.user_id, `${r.name} / ${r.timezone}`]));
  if (handle.service.name === "notify") {
    const mails = await rowsOf<{ user_id: string; template: string }>(
      handle,
      `SELECT user_id, template FROM notify.emails WHERE user_id IN (:userIds)`,
      { userIds },
    );
    for (const mail of mails)
      if (!states.has(mail.user_id)) states.set(mail.user_id, `erased, but ${mail.template} mail`);
  }
  return states;
}

/** The state every user must end in: the last event's. */
function lastStates(histories: EventEnvelope<UserEventType>[][]): Map<string, string> {
  const expected = new Map<string, string>();
  for (const history of histories) {
    const last = history[history.length - 1];
    if (last.type !== "user.deleted") expected.set(last.data.userId, "Name 3 / Asia/Tokyo");
  }
  return expected;
}

/** Resolves once `session`'s statement waits for a lock, or once `work` has settled without waiting. */
async function waitingOrDone(
  handle: ServiceHandle,
  pid: number,
  work: Promise<unknown>,
): Promise<void> {
  let settled = false;
  void work.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 1000 && !settled; i++) {
    const [row] = await rowsOf<{ wait_event_type: string | null }>(
      handle,
      `SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid`,
      { pid },
    );
    if (row?.wait_event_type === "Lock") return;
    await new Promise(resolve => setTimeout(resolve, 20));
  }
  if (!settled) throw new Error(`session ${pid} neither finished nor waited for a lock`);
}

async function backendPid(handle: ServiceHandle, t: Transaction): Promise<number> {
  const [row] = await handle.service.sequelize.query<{ pid: number }>(
    "SELECT pg_backend_pid() AS pid",
    { type: QueryTypes.SELECT, transaction: t },
  );
  return row.pid;
}

beforeAll(async () => {
  await requireServers("postgres", "redis");
  db = await createTestDatabase("lm_order");
  const namespace = uniqueName("order");
  // No TRANSPORTER, no AMQP_URL: each node alone with the shared database, events given by hand.
  const env = (node: string) => ({
    NAMESPACE: namespace,
    NODE_ID: `${namespace}-${node}`,
    DATABASE_URL: db.url,
    REDIS_URL: SERVERS.redis.url,
    REDIS_PREFIX: `${namespace}:`,
    SMTP_URL: "smtp://127.0.0.1:9",
  });
  notifyNodes = [await startTestNode(["notify"], env("notify-a"))];
  notifyNodes.push(await startTestNode(["notify"], env("notify-b")));
  progressNodes = [await startTestNode(["progress"], env("progress-a"))];
  progressNodes.push(await startTestNode(["progress"], env("progress-b")));
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([...notifyNodes, ...progressNodes].map(node => node.stop()));
  await db?.drop();
}, 60_000);

describe.each<Consumer>(["notify", "progress"])("%s: a user's events in every order", name => {
  const node = () => (name === "notify" ? notifyNodes[0] : progressNodes[0]);
  /** Every order of created/updated/updated(/deleted): 24 deleted users and 6 kept ones. */
  const everyOrder = () =>
    [true, false].flatMap(deleted =>
      permutations(historyOf(uuidv7(), deleted).map((_, i) => i)).map(order => {
        const history = historyOf(uuidv7(), deleted);
        return { history, delivered: order.map(i => history[i]) };
      }),
    );

  it("when each event is handled on its own, then each user ends in the last event's state", async () => {
    const handle = handleOf(node(), name);
    const runner = runnerOf(handle, "order-one-by-one");
    const cases = everyOrder();
    for (const { delivered } of cases)
      for (const event of delivered) expect(await runner.handle(event)).toBe("handled");
    const userIds = cases.map(c => c.history[0].data.userId);
    expect(await finalStates(handle, userIds)).toEqual(lastStates(cases.map(c => c.history)));
  });

  it("when a user's events arrive together in one batch, then each user ends in the last event's state", async () => {
    const handle = handleOf(node(), name);
    const runner = runnerOf(handle, "order-batched");
    const cases = everyOrder();
    // One consumer transaction per user, with runs of user.updated going to the batch handler.
    for (const { delivered } of cases)
      expect(await Promise.all(delivered.map(event => runner.handle(event)))).toEqual(
        delivered.map(() => "handled"),
      );
    const userIds = cases.map(c => c.history[0].data.userId);
    expect(await finalStates(handle, userIds)).toEqual(lastStates(cases.map(c => c.history)));
  });
});

describe.each<Consumer>(["notify", "progress"])(
  "%s on two nodes: one user's events handled at once",
  name => {
    const nodes = () => (name === "notify" ? notifyNodes : progressNodes);

    /**
     * `first` runs on node A and stays uncommitted while `second` starts on node B; A
     * commits once B finished or waits for a lock, then B commits.
     */
    async function race(
      first: EventEnvelope<UserEventType>,
      second: EventEnvelope<UserEventType>,
    ): Promise<void> {
      const [a, b] = nodes().map(n => handleOf(n, name));
      const run = (handle: ServiceHandle, event: EventEnvelope<UserEventType>, t: Transaction) =>
        (handle.handlers[event.type] as (e: EventEnvelope, t: Transaction) => Promise<void>).call(
          handle.service,
          event,
          t,
        );
      const ta = await a.service.sequelize.transaction();
      const tb = await b.service.sequelize.transaction();
      try {
        await run(a, first, ta);
        const pid = await backendPid(b, tb);
        const secondDone = run(b, second, tb);
        await waitingOrDone(b, pid, secondDone);
        await ta.commit();
        await secondDone;
        await tb.commit();
      } catch (err) {
        await Promise.allSettled([ta.rollback(), tb.rollback()]);
        throw err;
      }
    }

    const handle = () => handleOf(nodes()[0], name);
    const createFirst = async (history: EventEnvelope<UserEventType>[]) => {
      const runner = runnerOf(handle(), "order-race-setup");
      expect(await runner.handle(history[0])).toBe("handled");
    };

    it.each([
      ["the update first, no row yet", false, "update"],
      ["the update first, row there", true, "update"],
      ["the erasure first, no row yet", false, "erase"],
      ["the erasure first, row there", true, "erase"],
    ] as const)(
      "when an update and an erasure race (%s), then the user stays erased",
      async (_label, created, firstOne) => {
        const history = historyOf(uuidv7(), true);
        const [, , update, erase] = history;
        if (created) await createFirst(history);
        await (firstOne === "update" ? race(update, erase) : race(erase, update));
        expect(await finalStates(handle(), [update.data.userId])).toEqual(new Map());
      },
    );

    it("when a creation and an update race, then the user has the update's name", async () => {
      const history = historyOf(uuidv7(), false);
      const [created, , update] = history;
      await race(update, created);
      const again = historyOf(uuidv7(), false);
      await race(again[0], again[2]);
      const userIds = [created.data.userId, again[0].data.userId];
      expect(await finalStates(handle(), userIds)).toEqual(
        new Map(userIds.map(id => [id, "Name 3 / Asia/Tokyo"])),
      );
    });
  },
);

describe("progress: content.course.published of an older version", () => {
  it("when version 2's event is handled before version 1's, then the course keeps version 2's title and level", async () => {
    const handle = handleOf(progressNodes[0], "progress");
    const runner = runnerOf(handle, "order-course");
    const courseId = uuidv7();
    const published = (version: number, title: string, level: string) =>
      createEnvelope(
        "content.course.published",
        { courseId, version, title, level, topics: [] },
        { producer: "content" },
      );
    expect(await runner.handle(published(2, "Second edition", "B1"))).toBe("handled");
    expect(await runner.handle(published(1, "First edition", "A1"))).toBe("handled");
    const rows = await rowsOf<{ title: string; level: string; version: number }>(
      handle,
      `SELECT title, level, version FROM progress.courses WHERE course_id = :courseId`,
      { courseId },
    );
    expect(rows).toEqual([{ title: "Second edition", level: "B1", version: 2 }]);
  });
});
