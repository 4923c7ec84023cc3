import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { QueryTypes, type Sequelize } from "sequelize";
import { generateVAPIDKeys } from "web-push";
import type { DomainEventType, DomainEvents } from "../../models/events.model";
import { loadVapidKeys } from "../../services/notify/vapid";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { startPushService, type PushService } from "../support/push-service";
import { requireServers } from "../support/servers";
import { notifySchema, producerSchema, startBroker, waitUntil } from "./notify.helpers";
import { api, newEmail, PASSWORD, type AuthBody } from "./users.support";

/**
 * Web Push (api.md, Notifications) through the real gateway and notify over NATS, RabbitMQ and
 * PostgreSQL, against a push service on loopback that checks the VAPID JWT and decrypts each
 * payload (RFC 8291, aes128gcm) with the device's own private key.
 */

jest.setTimeout(90_000);

const VAPID = generateVAPIDKeys();
const SUBJECT = "mailto:push-ops@example.test";

describe("Web Push to a learner's devices", () => {
  const namespace = uniqueName("push");
  let db: TestDatabase;
  let pushService: PushService;
  let gateway: TestNode;
  let notify: ServiceBroker;
  let producer: ServiceBroker;
  let a: ReturnType<typeof api>;

  const emit = <T extends DomainEventType>(type: T, data: DomainEvents[T]) =>
    producer.call<{ id: string }, { type: T; data: DomainEvents[T] }>("eventsource.emit", {
      type,
      data,
    });
  const rows = <T extends object>(sql: string, replacements: Record<string, unknown>) =>
    (notify.getLocalService("notify") as unknown as { sequelize: Sequelize }).sequelize.query<T>(
      sql,
      { replacements, type: QueryTypes.SELECT },
    );

  async function register(tag: string): Promise<AuthBody> {
    const res = await a.post<AuthBody>("/auth/register", {
      email: newEmail(tag),
      password: PASSWORD,
      name: `Push ${tag}`,
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  async function subscribe(token: string, device: string): Promise<string> {
    const res = await a.post<{ id: string }>(
      "/me/push-subscriptions",
      pushService.newDevice(device).subscription,
      token,
    );
    expect(res.status).toBe(201);
    return res.body.id;
  }

  const achievement = (userId: string, code: string) =>
    emit("progress.achievement.unlocked", {
      userId,
      code,
      name: `Badge ${code}`,
      unlockedAt: new Date().toISOString(),
    });
  const pushesTo = (device: string) => pushService.received.filter(p => p.device === device);

  beforeAll(async () => {
    await requireServers("postgres", "redis", "nats", "rabbitmq");
    db = await createTestDatabase("lm_push");
    pushService = await startPushService();
    const env = {
      ...clusterEnv(namespace, db.url),
      RATE_LIMIT_RPM: "1000000",
      VAPID_PUBLIC_KEY: VAPID.publicKey,
      VAPID_PRIVATE_KEY: VAPID.privateKey,
      VAPID_SUBJECT: SUBJECT,
      PUSH_ALLOW_HTTP: "true",
    };
    gateway = await startTestNode(["api", "users"], { ...env, NODE_ID: `${namespace}-edge` });
    notify = await startBroker(`${namespace}-notify`, env, [notifySchema()]);
    producer = await startBroker(`${namespace}-producer`, env, [
      producerSchema as unknown as ServiceSchema,
    ]);
    await gateway.broker.waitForServices(["notify"], 15_000);
    a = api(gateway.apiUrl as string);
  });

  afterAll(async () => {
    await producer?.stop();
    await notify?.stop();
    await gateway?.stop();
    await pushService?.close();
    await db?.drop();
  });

  it("when the VAPID public key is asked for, then it is the configured one, without a login", async () => {
    const res = await a.get<{ publicKey: string }>("/push/vapid-public-key");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ publicKey: VAPID.publicKey });
  });

  it("when a notification is made, then each device gets one push it can decrypt, signed with VAPID, with TTL and urgency", async () => {
    const learner = await register("devices");
    await subscribe(learner.accessToken, "phone");
    await subscribe(learner.accessToken, "laptop");
    const event = await achievement(learner.user.id, "first_lesson");
    await waitUntil(
      async () => pushesTo("phone").length === 1 && pushesTo("laptop").length === 1,
      15_000,
      "a push on each device",
    );
    for (const push of [...pushesTo("phone"), ...pushesTo("laptop")]) {
      expect(push.payload).toMatchObject({
        kind: "achievement_unlocked",
        title: "Achievement unlocked: Badge first_lesson",
      });
      expect(push.vapid).toMatchObject({
        aud: pushService.origin,
        sub: SUBJECT,
        k: VAPID.publicKey,
      });
      expect(push.ttl).toBe(86_400);
      expect(push.urgency).toBe("normal");
    }
    expect(pushService.refused).toEqual([]);
    // The same event delivered again (a redelivery) pushes nothing twice.
    await producer.call("eventsource.redeliver", {
      ...event,
    });
    await new Promise(r => setTimeout(r, 1500));
    expect(pushesTo("phone")).toHaveLength(1);
    expect(pushesTo("laptop")).toHaveLength(1);
  });

  it("when the push service answers 410 for a device, then that subscription is removed and gets no more pushes", async () => {
    const learner = await register("gone");
    const goneId = await subscribe(learner.accessToken, "old-tablet");
    await subscribe(learner.accessToken, "new-tablet");
    pushService.answer("old-tablet", 410);
    await achievement(learner.user.id, "one");
    await waitUntil(async () => pushesTo("new-tablet").length === 1, 15_000, "the live device");
    await waitUntil(
      async () =>
        (await rows("SELECT id FROM notify.push_subscriptions WHERE id = :id", { id: goneId }))
          .length === 0,
      10_000,
      "the gone subscription removed",
    );
    await achievement(learner.user.id, "two");
    await waitUntil(async () => pushesTo("new-tablet").length === 2, 15_000, "the second push");
    expect(pushesTo("old-tablet")).toHaveLength(0);
    expect(pushService.refused.filter(r => r.device === "old-tablet")).toHaveLength(1);
    const del = await a.call("DELETE", `/me/push-subscriptions/${goneId}`, {
      token: learner.accessToken,
    });
    expect(del.status).toBe(404);
  });

  it("when the push service fails for a while, then the push is retried with back-off and arrives once", async () => {
    const learner = await register("retry");
    await subscribe(learner.accessToken, "flaky");
    pushService.answer("flaky", 503, 2);
    await achievement(learner.user.id, "retry");
    await waitUntil(async () => pushesTo("flaky").length === 1, 20_000, "the retried push");
    const [delivery] = await rows<{ status: string; attempts: number }>(
      "SELECT status, attempts FROM notify.push_deliveries WHERE user_id = :userId",
      { userId: learner.user.id },
    );
    expect(delivery).toEqual({ status: "sent", attempts: 3 });
  });

  it("when a subscription is deleted, then 204; someone else's id or a second delete is 404", async () => {
    const owner = await register("owner");
    const other = await register("other");
    const id = await subscribe(owner.accessToken, "owner-phone");
    const foreign = await a.call("DELETE", `/me/push-subscriptions/${id}`, {
      token: other.accessToken,
    });
    expect(foreign.status).toBe(404);
    const mine = await a.call("DELETE", `/me/push-subscriptions/${id}`, {
      token: owner.accessToken,
    });
    expect(mine.status).toBe(204);
    const again = await a.call("DELETE", `/me/push-subscriptions/${id}`, {
      token: owner.accessToken,
    });
    expect(again.status).toBe(404);
    await achievement(owner.user.id, "after-delete");
    await new Promise(r => setTimeout(r, 1500));
    expect(pushesTo("owner-phone")).toHaveLength(0);
  });

  it("when preferences are changed per channel, then the answer and the next read hold them; security mail stays on", async () => {
    const learner = await register("prefs");
    const url = "/me/notification-preferences";
    const initial = await a.get<Record<string, unknown>>(url, learner.accessToken);
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({
      email: { marketing: false, security: true },
      sms: { achievements: false, security: true },
      digest: "weekly",
    });
    const refused = await a.call<{ data: Array<{ field: string }> }>("PUT", url, {
      body: { email: { security: false } },
      token: learner.accessToken,
    });
    expect(refused.status).toBe(422);
    expect(refused.body.data.map(d => d.field)).toEqual(["email.security"]);
    const changed = await a.call<Record<string, Record<string, boolean> | string>>("PUT", url, {
      body: {
        email: { social: false, marketing: true },
        push: { achievements: false },
        digest: "daily",
      },
      token: learner.accessToken,
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      email: { social: false, marketing: true, achievements: true, security: true },
      push: { achievements: false, reminders: true },
      digest: "daily",
    });
    const off = await a.call("PUT", url, { body: { digest: "off" }, token: learner.accessToken });
    expect(off.body).toMatchObject({ digest: "off", push: { achievements: false } });
    const read = await a.get(url, learner.accessToken);
    expect(read.body).toEqual(off.body);
    const unknown = await a.call("PUT", url, {
      body: { fax: { marketing: true } },
      token: learner.accessToken,
    });
    expect(unknown.status).toBe(422);
  });

  it("when a learner turned a category off for push or in-app, then that channel stays quiet and the others do not", async () => {
    const learner = await register("quiet");
    await subscribe(learner.accessToken, "quiet-phone");
    const url = "/me/notification-preferences";
    await a.call("PUT", url, {
      body: { push: { achievements: false } },
      token: learner.accessToken,
    });
    await achievement(learner.user.id, "silent-push");
    const listed = async () =>
      (await a.get<{ rows: unknown[] }>("/me/notifications", learner.accessToken)).body.rows.length;
    await waitUntil(async () => (await listed()) === 1, 15_000, "the in-app notification");
    await a.call("PUT", url, {
      body: { push: { achievements: true }, inApp: { achievements: false } },
      token: learner.accessToken,
    });
    await achievement(learner.user.id, "silent-in-app");
    await waitUntil(async () => pushesTo("quiet-phone").length === 1, 15_000, "the push");
    expect(pushesTo("quiet-phone")[0].payload.title).toBe(
      "Achievement unlocked: Badge silent-in-app",
    );
    await new Promise(r => setTimeout(r, 500));
    expect(await listed()).toBe(1);
  });

  it("when a notification falls in the learner's quiet hours, then its push waits for their end; in-app does not", async () => {
    const learner = await register("night");
    await subscribe(learner.accessToken, "night-phone");
    const hhmm = (d: Date) => d.toISOString().slice(11, 16);
    const now = new Date();
    const end = new Date(now.getTime() + 2 * 3600_000);
    // The account's time zone is UTC (registration's default), so the window is in UTC here.
    await emit("user.updated", {
      userId: learner.user.id,
      name: "Push night",
      timezone: "UTC",
      sequence: 1000,
      quietHours: { start: hhmm(new Date(now.getTime() - 3600_000)), end: hhmm(end) },
    });
    await new Promise(r => setTimeout(r, 1000));
    await achievement(learner.user.id, "late");
    const held = await waitUntil(
      async () => {
        const found = await rows<{ next_attempt_at: Date; status: string }>(
          "SELECT next_attempt_at, status FROM notify.push_deliveries WHERE user_id = :userId",
          { userId: learner.user.id },
        );
        return found[0];
      },
      15_000,
      "the held push",
    );
    expect(held.status).toBe("queued");
    expect(hhmm(new Date(held.next_attempt_at))).toBe(hhmm(end));
    const list = await a.get<{ rows: unknown[] }>("/me/notifications", learner.accessToken);
    expect(list.body.rows).toHaveLength(1);
    await new Promise(r => setTimeout(r, 1000));
    expect(pushesTo("night-phone")).toHaveLength(0);
  });

  it("when all notifications are marked read, then 204 and none is unread; another user's stay unread", async () => {
    const learner = await register("readall");
    const other = await register("readall-other");
    await achievement(learner.user.id, "r1");
    await achievement(learner.user.id, "r2");
    await achievement(other.user.id, "r3");
    const unreadOf = async (token: string) =>
      (await a.get<{ unread: number }>("/me/notifications", token)).body.unread;
    await waitUntil(async () => (await unreadOf(learner.accessToken)) === 2, 15_000, "two unread");
    await waitUntil(async () => (await unreadOf(other.accessToken)) === 1, 15_000, "one unread");
    const res = await a.call("POST", "/me/notifications/read-all", { token: learner.accessToken });
    expect(res.status).toBe(204);
    expect(await unreadOf(learner.accessToken)).toBe(0);
    expect(await unreadOf(other.accessToken)).toBe(1);
    expect((await a.call("POST", "/me/notifications/read-all", {})).status).toBe(401);
  });

  it("when the learner's locale is Spanish, then the in-app notification and the push are in Spanish", async () => {
    const learner = await register("es");
    await subscribe(learner.accessToken, "es-phone");
    await emit("user.updated", {
      userId: learner.user.id,
      name: "Push es",
      timezone: "UTC",
      sequence: 1000,
      locale: "es",
    });
    await new Promise(r => setTimeout(r, 1000));
    await achievement(learner.user.id, "hola");
    await waitUntil(async () => pushesTo("es-phone").length === 1, 15_000, "the push");
    expect(pushesTo("es-phone")[0].payload).toMatchObject({
      title: "Logro desbloqueado: Badge hola",
      body: "¡Buen trabajo! Has ganado una nueva insignia.",
    });
    const list = await a.get<{ rows: Array<{ title: string }> }>(
      "/me/notifications",
      learner.accessToken,
    );
    expect(list.body.rows.map(r => r.title)).toEqual(["Logro desbloqueado: Badge hola"]);
  });

  it("when a subscription's keys or endpoint are not a browser's, then 422 names the field", async () => {
    const learner = await register("bad");
    const good = pushService.newDevice("bad-device").subscription;
    const badKey = await a.post<{ data: Array<{ field: string }> }>(
      "/me/push-subscriptions",
      { ...good, keys: { ...good.keys, p256dh: Buffer.alloc(65, 7).toString("base64url") } },
      learner.accessToken,
    );
    expect(badKey.status).toBe(422);
    expect(badKey.body.data.map(d => d.field)).toEqual(["keys.p256dh"]);
    const badEndpoint = await a.post<{ data: Array<{ field: string }> }>(
      "/me/push-subscriptions",
      { ...good, endpoint: "ftp://push.example/x" },
      learner.accessToken,
    );
    expect(badEndpoint.status).toBe(422);
    expect(badEndpoint.body.data.map(d => d.field)).toEqual(["endpoint"]);
    const extra = await a.post(
      "/me/push-subscriptions",
      { ...good, userId: "x" },
      learner.accessToken,
    );
    expect(extra.status).toBe(422);
    expect((await a.post("/me/push-subscriptions", good)).status).toBe(401);
  });
});

describe("VAPID keys without VAPID_* set", () => {
  it("when a single node starts, then a key pair is generated once under DATA_DIR and kept", () => {
    const dataDir = tempDataDir("vapid");
    const first = loadVapidKeys(testConfig({ DATA_DIR: dataDir }));
    const second = loadVapidKeys(testConfig({ DATA_DIR: dataDir }));
    expect(first?.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(second).toEqual(first);
    const file = path.join(dataDir, "keys", "vapid.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it("when a cluster node starts, then no key is made up and Web Push is off", () => {
    const dataDir = tempDataDir("vapid-cluster");
    const cfg = testConfig({ DATA_DIR: dataDir, TRANSPORTER: "nats://127.0.0.1:4222" });
    expect(loadVapidKeys(cfg)).toBeNull();
    expect(fs.existsSync(path.join(dataDir, "keys", "vapid.json"))).toBe(false);
  });
});
