import crypto from "node:crypto";
import net from "node:net";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { QueryTypes, type Sequelize } from "sequelize";
import { WebSocket } from "ws";
import type { DomainEventType, DomainEvents } from "../../models/events.model";
import { LIVE_DELIVERY_EVENT, type LiveDelivery, type LiveMessage } from "../../models/live.model";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import { producerSchema, startBroker, waitUntil } from "./notify.helpers";
import { api, newEmail, PASSWORD, type AuthBody } from "./users.support";

/**
 * `POST /live/ticket` and the `GET /live` WebSocket (api.md, Notifications) on two gateway
 * nodes over real NATS, Redis, RabbitMQ and PostgreSQL, with a real `ws` client: a
 * notification made on the event path reaches the socket held by the other gateway; a
 * reconnect with `since` gets exactly what it missed; tickets, origins, limits, heartbeats,
 * slow clients and revoked sessions.
 */

jest.setTimeout(120_000);

const HEARTBEAT_MS = 1000;
const SEND_BUFFER_BYTES = 64 * 1024;
const PER_USER = 3;

interface LiveClient {
  ws: WebSocket;
  messages: LiveMessage[];
  closed: Promise<{ code: number; at: number }>;
}

describe("live messages over WebSockets on two gateways", () => {
  const namespace = uniqueName("live");
  let db: TestDatabase;
  let nodeA: TestNode;
  let nodeB: TestNode;
  let producer: ServiceBroker;
  let a: ReturnType<typeof api>;
  let env: Record<string, string>;
  const clients: WebSocket[] = [];

  const emit = <T extends DomainEventType>(type: T, data: DomainEvents[T]) =>
    producer.call("eventsource.emit", { type, data });

  async function register(tag: string): Promise<AuthBody> {
    const res = await a.post<AuthBody>("/auth/register", {
      email: newEmail(tag),
      password: PASSWORD,
      name: `Live ${tag}`,
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function ticketFor(token: string): Promise<string> {
    const res = await a.post<{ ticket: string }>("/live/ticket", {}, token);
    expect(res.status).toBe(201);
    expect(res.body.ticket).toMatch(/^[A-Za-z0-9_-]{43}$/);
    return res.body.ticket;
  }

  const liveUrl = (node: TestNode, query: string) =>
    `${(node.origin as string).replace("http:", "ws:")}/api/v1/live?${query}`;

  /** Opens a socket, or answers the HTTP status that refused the upgrade. */
  function connect(
    node: TestNode,
    query: string,
    headers: Record<string, string> = {},
  ): Promise<LiveClient | { refused: number; body: string }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(liveUrl(node, query), { headers });
      clients.push(ws);
      const messages: LiveMessage[] = [];
      ws.on("message", raw => messages.push(JSON.parse(String(raw)) as LiveMessage));
      const closed = new Promise<{ code: number; at: number }>(done =>
        ws.on("close", code => done({ code, at: Date.now() })),
      );
      ws.once("open", () => resolve({ ws, messages, closed }));
      ws.once("unexpected-response", (_req, res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ refused: res.statusCode ?? 0, body }));
      });
      ws.once("error", err => reject(err));
    });
  }

  async function open(node: TestNode, token: string, since?: string): Promise<LiveClient> {
    const ticket = await ticketFor(token);
    const client = await connect(node, `ticket=${ticket}${since ? `&since=${since}` : ""}`);
    if ("refused" in client) throw new Error(`upgrade refused with ${client.refused}`);
    return client;
  }

  const achievement = (userId: string, code: string) =>
    emit("progress.achievement.unlocked", {
      userId,
      code,
      name: `Badge ${code}`,
      unlockedAt: new Date().toISOString(),
    });

  /** A bare TCP client that completes the handshake and then does nothing at all. */
  async function silentSocket(node: TestNode, ticket: string): Promise<net.Socket> {
    const { port } = new URL(node.origin as string);
    const socket = net.connect(Number(port), "127.0.0.1");
    await new Promise(resolve => socket.once("connect", resolve));
    socket.write(
      `GET /api/v1/live?ticket=${ticket} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${crypto.randomBytes(16).toString("base64")}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`,
    );
    const head = await new Promise<string>(resolve => socket.once("data", d => resolve(String(d))));
    // From here on nothing is read: what the gateway sends waits in the kernel, then at the gateway.
    socket.pause();
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    return socket;
  }

  const liveSize = (node: TestNode) =>
    (node.broker.getLocalService("api") as unknown as { live: { size: number } }).live.size;

  beforeAll(async () => {
    await requireServers("postgres", "redis", "nats", "rabbitmq");
    db = await createTestDatabase("lm_live");
    env = {
      ...clusterEnv(namespace, db.url),
      RATE_LIMIT_RPM: "1000000",
      LIVE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      LIVE_SEND_BUFFER_BYTES: String(SEND_BUFFER_BYTES),
      LIVE_MAX_SOCKETS_PER_USER: String(PER_USER),
    };
    nodeA = await startTestNode(["api", "users", "notify", "progress"], {
      ...env,
      NODE_ID: `${namespace}-a`,
    });
    nodeB = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-b` });
    producer = await startBroker(`${namespace}-producer`, env, [
      producerSchema as unknown as ServiceSchema,
    ]);
    await nodeB.broker.waitForServices(["users", "notify"], 15_000);
    a = api(nodeA.apiUrl as string);
  });

  afterAll(async () => {
    for (const ws of clients) ws.terminate();
    await producer?.stop();
    await nodeB?.stop();
    await nodeA?.stop();
    await db?.drop();
  });

  it("when a notification is made on the event path, then it reaches the socket held by the other gateway", async () => {
    const learner = await register("cross");
    const client = await open(nodeB, learner.accessToken);
    await achievement(learner.user.id, "first_lesson");
    await waitUntil(async () => client.messages.length >= 2, 15_000, "two live messages");
    const types = client.messages.map(m => m.type).sort();
    expect(types).toEqual(["achievement.unlocked", "notification.created"]);
    for (const message of client.messages) {
      expect(Object.keys(message).sort()).toEqual(["at", "data", "id", "type"]);
      expect(message.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(message.at)).not.toBeNaN();
    }
    const created = client.messages.find(m => m.type === "notification.created");
    expect(created?.data).toMatchObject({
      kind: "achievement_unlocked",
      title: "Achievement unlocked: Badge first_lesson",
    });
    // The same notification the REST list shows.
    const list = await a.get<{ rows: Array<{ id: string }> }>(
      "/me/notifications",
      learner.accessToken,
    );
    expect(list.body.rows.map(r => r.id)).toContain(created?.data.id);
  });

  it("when a socket reconnects with since, then it gets exactly the messages it missed, in order", async () => {
    const learner = await register("since");
    const first = await open(nodeA, learner.accessToken);
    await achievement(learner.user.id, "one");
    await waitUntil(async () => first.messages.length >= 2, 15_000, "first messages");
    const lastSeen = [...first.messages].sort((x, y) => x.id.localeCompare(y.id)).at(-1)!;
    first.ws.close();
    await first.closed;

    await achievement(learner.user.id, "two");
    await achievement(learner.user.id, "three");
    const missedCount = async () => {
      const res = await a.get<{ rows: unknown[] }>("/me/notifications", learner.accessToken);
      return res.body.rows.length === 3;
    };
    await waitUntil(missedCount, 15_000, "the missed notifications");

    const again = await open(nodeB, learner.accessToken, lastSeen.id);
    await waitUntil(async () => again.messages.length >= 4, 15_000, "the replay");
    await new Promise(r => setTimeout(r, 500));
    expect(again.messages).toHaveLength(4);
    const ids = again.messages.map(m => m.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids.every(id => id > lastSeen.id)).toBe(true);
    const badges = again.messages
      .filter(m => m.type === "achievement.unlocked")
      .map(m => m.data.code);
    expect(badges).toEqual(["two", "three"]);

    // Live messages keep coming after the replay, once each.
    await achievement(learner.user.id, "four");
    await waitUntil(async () => again.messages.length >= 6, 15_000, "a live message after replay");
    expect(new Set(again.messages.map(m => m.id)).size).toBe(6);
  });

  it("when a learner's flashcards become due, then one review.due message per wave reaches their socket on the other gateway", async () => {
    const learner = await register("due");
    const userId = learner.user.id;
    const progressDb = (
      nodeA.broker.getLocalService("progress") as unknown as { sequelize: Sequelize }
    ).sequelize;
    const query = (sql: string, replacements: Record<string, unknown>) =>
      progressDb.query(sql, { replacements, type: QueryTypes.SELECT });
    await waitUntil(
      async () =>
        (await query(`SELECT 1 FROM progress.learners WHERE user_id = :userId`, { userId }))
          .length === 1,
      15_000,
      "progress's learner row",
    );
    const client = await open(nodeB, learner.accessToken);
    const dues = () => client.messages.filter(m => m.type === "review.due");
    /** One reminder round that ran (the node's own timer may hold the lock for a moment). */
    const round = async () => {
      for (;;) {
        const run = await nodeA.broker.call<
          { ran: boolean; reviewsDue: string[] },
          Record<string, never>
        >("progress.runStreakReminders", {});
        if (run.ran) return run;
        await new Promise(r => setTimeout(r, 100));
      }
    };
    const hour = 3600_000;
    for (const [cardId, dueIn] of [
      ["c-1", -hour],
      ["c-2", -2 * hour],
      ["c-3", 30 * 24 * hour],
    ] as const)
      await query(
        `INSERT INTO progress.review_cards (user_id, card_id, lesson_id, course_id, front, back, due,
           stability, difficulty, elapsed_days, scheduled_days, learning_steps, reps, lapses, state)
         VALUES (:userId, :cardId, 'l-1', 'c-1', 'hello', 'hola', :due, 1, 5, 0, 1, 0, 1, 0, 2)`,
        { userId, cardId, due: new Date(Date.now() + dueIn) },
      );

    expect((await round()).reviewsDue).toContain(userId);
    await waitUntil(async () => dues().length >= 1, 15_000, "the review.due message");
    const [first] = dues();
    expect(Object.keys(first).sort()).toEqual(["at", "data", "id", "type"]);
    expect(first.data).toEqual({ count: 2 });
    // Later rounds in the same wave tell nothing new.
    expect((await round()).reviewsDue).not.toContain(userId);
    expect((await round()).reviewsDue).not.toContain(userId);

    // Every due card reviewed (due next week): the wave closes; a card due again opens the next.
    await query(
      `UPDATE progress.review_cards SET due = now() + interval '7 days' WHERE user_id = :userId AND due <= now()`,
      { userId },
    );
    expect((await round()).reviewsDue).not.toContain(userId);
    await query(
      `UPDATE progress.review_cards SET due = now() - interval '1 minute' WHERE user_id = :userId AND card_id = 'c-1'`,
      { userId },
    );
    expect((await round()).reviewsDue).toContain(userId);
    await waitUntil(async () => dues().length >= 2, 15_000, "the next wave's review.due");
    await new Promise(r => setTimeout(r, 500));
    expect(dues().map(m => m.data)).toEqual([{ count: 2 }, { count: 1 }]);
    // A socket that reconnects with `since` gets the message it missed too.
    const again = await open(nodeA, learner.accessToken, first.id);
    await waitUntil(async () => again.messages.length >= 1, 15_000, "the replay");
    expect(again.messages.filter(m => m.type === "review.due").map(m => m.data)).toEqual([
      { count: 1 },
    ]);
  });

  it("when a ticket is used twice, is made up or is missing, then the upgrade is refused with 401", async () => {
    const learner = await register("ticket");
    const ticket = await ticketFor(learner.accessToken);
    const first = await connect(nodeB, `ticket=${ticket}`);
    expect("ws" in first).toBe(true);
    // Issued on A, used on B: the second use, on either node, is refused.
    expect(await connect(nodeA, `ticket=${ticket}`)).toMatchObject({ refused: 401 });
    expect(
      await connect(nodeB, `ticket=${crypto.randomBytes(32).toString("base64url")}`),
    ).toMatchObject({
      refused: 401,
    });
    const missing = await connect(nodeB, "");
    expect(missing).toMatchObject({ refused: 401 });
    expect(JSON.parse((missing as { body: string }).body)).toMatchObject({
      code: 401,
      type: "UNAUTHORIZED",
    });
    expect((await a.post("/live/ticket", {})).status).toBe(401);
  });

  it("when a browser of another origin asks, then 403; the app's own origin is let in", async () => {
    const learner = await register("origin");
    const foreign = await connect(nodeB, `ticket=${await ticketFor(learner.accessToken)}`, {
      Origin: "https://evil.example",
    });
    expect(foreign).toMatchObject({ refused: 403 });
    const own = await connect(nodeB, `ticket=${await ticketFor(learner.accessToken)}`, {
      Origin: "http://localhost:3000",
    });
    expect("ws" in own).toBe(true);
  });

  it("when a user opens more sockets on a node than allowed, then the extra one is refused with 429", async () => {
    const learner = await register("limit");
    for (let i = 0; i < PER_USER; i++) await open(nodeB, learner.accessToken);
    const extra = await connect(nodeB, `ticket=${await ticketFor(learner.accessToken)}`);
    expect(extra).toMatchObject({ refused: 429 });
    // The limit is per node: the other gateway still lets the user in.
    await open(nodeA, learner.accessToken);
  });

  it("when the session is revoked, then its sockets on every gateway close within a second", async () => {
    const learner = await register("revoke");
    const onA = await open(nodeA, learner.accessToken);
    const onB = await open(nodeB, learner.accessToken);
    const other = await register("bystander");
    const bystander = await open(nodeB, other.accessToken);
    const started = Date.now();
    const res = await a.call("POST", "/auth/logout", {
      body: { refreshToken: learner.refreshToken },
      token: learner.accessToken,
    });
    expect(res.status).toBe(204);
    const [closedA, closedB] = await Promise.all([onA.closed, onB.closed]);
    expect(closedA.code).toBe(4001);
    expect(closedB.code).toBe(4001);
    expect(Math.max(closedA.at, closedB.at) - started).toBeLessThan(1000);
    expect(bystander.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("when a client stops answering pings, then the heartbeat closes its socket", async () => {
    const learner = await register("dead");
    const before = liveSize(nodeB);
    const socket = await silentSocket(nodeB, await ticketFor(learner.accessToken));
    // It reads (and drops) the pings, but never answers one.
    socket.resume();
    await waitUntil(async () => liveSize(nodeB) === before + 1, 5000, "the socket held");
    const ended = new Promise<number>(resolve => socket.once("close", () => resolve(Date.now())));
    const opened = Date.now();
    const closedAt = await ended;
    // Ping at the first beat, closed at the next one that found no pong.
    expect(closedAt - opened).toBeLessThan(3 * HEARTBEAT_MS + 1000);
    await waitUntil(async () => liveSize(nodeB) === before, 5000, "the socket let go");
  });

  it("when a client does not read, then the gateway drops it instead of buffering without bound", async () => {
    // A gateway whose heartbeat would not close the silent socket during the test.
    const patient = await startTestNode(["api"], {
      ...env,
      NODE_ID: `${namespace}-c`,
      LIVE_HEARTBEAT_MS: "600000",
    });
    try {
      await patient.broker.waitForServices(["users", "notify"], 15_000);
      const learner = await register("slow");
      const socket = await silentSocket(patient, await ticketFor(learner.accessToken));
      await waitUntil(async () => liveSize(patient) === 1, 5000, "the socket held");
      const ended = new Promise<void>(resolve => socket.once("close", () => resolve()));
      const payload = "x".repeat(64 * 1024);
      const count = 400;
      for (let i = 0; i < count; i++) {
        const delivery: LiveDelivery = {
          userId: learner.user.id,
          message: {
            id: crypto.randomUUID(),
            type: "xp.awarded",
            at: new Date().toISOString(),
            data: { payload },
          },
        };
        await producer.broadcast(LIVE_DELIVERY_EVENT, delivery, { groups: ["api"] });
      }
      // Let go on the gateway while the client still reads nothing.
      await waitUntil(async () => liveSize(patient) === 0, 20_000, "the slow socket dropped");
      let received = 0;
      socket.on("data", (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      await ended;
      expect(received).toBeLessThan(count * payload.length);
    } finally {
      await patient.stop();
    }
  });
});
