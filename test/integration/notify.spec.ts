import { createHash } from "node:crypto";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { QueryTypes, type Sequelize } from "sequelize";
import { v7 as uuidv7 } from "uuid";
import type { DomainEventType, DomainEvents, EventEnvelope } from "../../models/events.model";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  linksOf,
  notifySchema,
  producerSchema,
  startBroker,
  startSmtpCatcher,
  waitUntil,
  type CaughtMail,
  type SmtpCatcher,
} from "./notify.helpers";

const PUBLIC_URL = "https://learn.example.test";
const API = `${PUBLIC_URL}/api/v1`;

interface EmailListing {
  rows: Array<{
    id: string;
    template: string;
    status: string;
    to: string;
    smtpResponse: string | null;
    sentAt: string | null;
    openedAt: string | null;
    attempts: number;
  }>;
  total: number;
}

describe("notify: durable events become mail over a real SMTP server", () => {
  let db: TestDatabase;
  let smtp: SmtpCatcher;
  let producer: ServiceBroker;
  let notifyA: ServiceBroker;
  let env: Record<string, string>;
  let gateway: TestNode;
  /** What the gateway warned about while the suite ran. */
  const gatewayWarnings: string[] = [];
  const admin = { user: { id: "admin-1", roles: ["admin" as const] } };

  const emit = <T extends DomainEventType>(type: T, data: DomainEvents[T]) =>
    producer.call<EventEnvelope<T>, { type: T; data: DomainEvents[T] }>("eventsource.emit", {
      type,
      data,
    });
  const sql = () =>
    (notifyA.getLocalService("notify") as unknown as { sequelize: Sequelize }).sequelize;
  const emailsOf = async (to: string) =>
    notifyA.call<EmailListing, Record<string, unknown>>(
      "notify.emails",
      { to, pageSize: 100 },
      { meta: admin },
    );
  const mailsTo = (to: string) => smtp.mails.filter(m => m.envelopeTo.includes(to));
  const newUser = async (label: string) => {
    const userId = uuidv7();
    const email = `${label}-${userId.slice(-6)}@example.test`;
    await emit("user.created", {
      userId,
      email,
      name: `Learner ${label}`,
      timezone: "Europe/Paris",
      verificationToken: `vt-${userId}`,
    });
    await smtp.waitFor(() => mailsTo(email).length >= 1);
    return { userId, email, meta: { user: { id: userId, roles: ["learner" as const] } } };
  };

  /** A link from a mail, pointed at the test gateway instead of PUBLIC_URL. */
  const viaGateway = (url: string) => url.replace(API, gateway.apiUrl as string);
  const rowsOf = (query: string, replacements: Record<string, unknown>) =>
    sql().query<Record<string, unknown>>(query, { replacements, type: QueryTypes.SELECT });
  const settle = (ms = 700) => new Promise(r => setTimeout(r, ms));

  beforeAll(async () => {
    await requireServers("postgres", "rabbitmq", "nats", "redis");
    db = await createTestDatabase("lm_notify");
    smtp = await startSmtpCatcher();
    const namespace = uniqueName("notify");
    env = {
      ...clusterEnv(namespace, db.url),
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      PUBLIC_URL,
      DATA_DIR: tempDataDir("notify"),
      MAIL_FROM: "Lingomesh Test <no-reply@example.test>",
    };
    producer = await startBroker(`${namespace}-producer`, env, [
      producerSchema as unknown as ServiceSchema,
    ]);
    notifyA = await startBroker(`${namespace}-notify-a`, env, [notifySchema()]);
    // The real gateway on its own node: public mail links are answered across the transporter.
    gateway = await startTestNode(["api"], { ...env, NODE_ID: `${namespace}-gateway` });
    const gatewayLogger = gateway.broker.getLocalService("api").logger;
    const warn = gatewayLogger.warn.bind(gatewayLogger);
    jest.spyOn(gatewayLogger, "warn").mockImplementation((...args: unknown[]) => {
      gatewayWarnings.push(args.map(String).join(" "));
      warn(...args);
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await notifyA?.stop();
    await producer?.stop();
    await smtp?.close();
    await db?.drop();
  });

  it("when a user is created, then exactly one welcome mail goes out with HTML, text and a working verify link", async () => {
    const { userId, email } = await newUser("welcome");
    await new Promise(r => setTimeout(r, 500));
    const mails = mailsTo(email);
    expect(mails).toHaveLength(1);
    const mail = mails[0];
    expect(mail.parsed.subject).toContain("Learner welcome");
    expect(mail.parsed.html).toBeTruthy();
    expect(mail.parsed.text).toBeTruthy();
    const verifyUrl = `${PUBLIC_URL}/verify-email?token=vt-${userId}`;
    expect(linksOf(mail.parsed.html as string)).toContain(verifyUrl);
    expect(mail.parsed.text).toContain(verifyUrl);
    expect(mail.parsed.html).toMatch(/<img[^>]+notifications\/open\/[^"]+\.gif/);
    // Transactional: no unsubscribe.
    expect(mail.header("list-unsubscribe")).toBeUndefined();
    const listing = await emailsOf(email);
    const welcome = listing.rows.find(r => r.template === "welcome");
    expect(welcome).toMatchObject({ status: "sent", to: email });
    expect(welcome?.smtpResponse).toMatch(/^250/);
  });

  it("when the user verifies the address, then the scheduled verification reminder is dropped", async () => {
    const { userId } = await newUser("verify");
    const before = await rowsOf(
      `SELECT status, next_attempt_at FROM notify.emails WHERE user_id = :userId AND template = 'verify-reminder'`,
      { userId },
    );
    expect(before).toHaveLength(1);
    expect(new Date(before[0].next_attempt_at as string).getTime()).toBeGreaterThan(
      Date.now() + 23 * 3600_000,
    );
    await emit("user.email_verified", { userId });
    await waitUntil(
      async () =>
        (
          await rowsOf(
            `SELECT 1 FROM notify.emails WHERE user_id = :userId AND template = 'verify-reminder'`,
            { userId },
          )
        ).length === 0,
      10_000,
      "reminder dropped",
    );
  });

  it("when a password reset is requested, then one mail carries the reset link, and more than 5 an hour to one address are refused", async () => {
    const { userId, email } = await newUser("reset");
    for (let i = 0; i < 7; i++) {
      await emit("user.password_reset_requested", {
        userId,
        email,
        name: "Learner reset",
        resetToken: `rt-${i}`,
      });
    }
    await smtp.waitFor(
      () => mailsTo(email).filter(m => m.parsed.subject?.includes("Reset")).length >= 5,
    );
    await settle(1500);
    const resets = mailsTo(email).filter(m => m.parsed.subject?.includes("Reset"));
    expect(resets).toHaveLength(5);
    const first = resets.find(m => m.parsed.text?.includes("token=rt-0"));
    expect(first).toBeDefined();
    expect(linksOf(first?.parsed.html as string)).toContain(
      `${PUBLIC_URL}/reset-password?token=rt-0`,
    );
    expect(first?.header("list-unsubscribe")).toBeUndefined();
  });

  it("when an event is redelivered or handled again, then no mail goes twice", async () => {
    const { userId, email } = await newUser("redeliver");
    const envelope = await emit("progress.achievement.unlocked", {
      userId,
      code: "first-lesson",
      name: "First steps",
      unlockedAt: new Date().toISOString(),
    });
    await smtp.waitFor(() => mailsTo(email).some(m => m.parsed.subject?.includes("First steps")));
    // The same envelope (same id) published again through the outbox and the broker.
    await producer.call("eventsource.redeliver", envelope);
    // And handled again as a second node would without the processed-events guard.
    const svc = notifyA.getLocalService("notify") as unknown as {
      withTransaction<T>(fn: (t: unknown) => Promise<T>): Promise<T>;
      schema: {
        durableEvents: Record<string, (this: unknown, e: unknown, t: unknown) => Promise<void>>;
      };
    };
    await svc.withTransaction(t =>
      svc.schema.durableEvents["progress.achievement.unlocked"].call(svc, envelope, t),
    );
    await settle(2000);
    expect(mailsTo(email).filter(m => m.parsed.subject?.includes("First steps"))).toHaveLength(1);
    const notes = await rowsOf(
      `SELECT 1 FROM notify.notifications WHERE user_id = :userId AND kind = 'achievement_unlocked'`,
      { userId },
    );
    expect(notes).toHaveLength(1);
  });

  it("when each progress and content event kind arrives, then each produces its mail with HTML, text and working links", async () => {
    const { userId, email, meta } = await newUser("kinds");
    await notifyA.call("notify.updatePreferences", { email: { marketing: true } }, { meta });
    const courseId = uuidv7();
    await emit("content.course.published", {
      courseId,
      version: 1,
      title: "Travel English",
      level: "A2",
      topics: ["travel"],
    });
    // Events of different types carry no order; the course title is known once its publication was handled.
    await smtp.waitFor(() =>
      mailsTo(email).some(m => m.parsed.subject?.includes("Travel English")),
    );
    const certificateId = uuidv7();
    await emit("progress.course.completed", {
      userId,
      courseId,
      completedAt: new Date().toISOString(),
      certificateId,
    });
    await emit("progress.achievement.unlocked", {
      userId,
      code: "streak-7",
      name: "Seven in a row",
      unlockedAt: new Date().toISOString(),
    });
    await emit("progress.streak.reminder_due", {
      userId,
      currentStreak: 6,
      localDate: "2026-11-20",
    });
    await smtp.waitFor(() => mailsTo(email).length >= 5);
    await settle();
    const bySubject = (part: string) =>
      mailsTo(email).filter(m => m.parsed.subject?.includes(part));
    const newCourse = bySubject("New course: Travel English");
    const completed = bySubject("You completed Travel English");
    const achievement = bySubject("Seven in a row");
    const reminder = bySubject("6-day streak");
    for (const mails of [newCourse, completed, achievement, reminder]) {
      expect(mails).toHaveLength(1);
      const [mail] = mails;
      expect(mail.parsed.html).toContain("<!doctype html>");
      expect(mail.parsed.text?.length).toBeGreaterThan(50);
      expect(mail.header("list-unsubscribe")).toMatch(
        /^<https:\/\/learn\.example\.test\/api\/v1\/notifications\/unsubscribe\/.+>$/,
      );
      expect(mail.header("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
      expect(mail.parsed.html).not.toMatch(/\{\{/);
    }
    // Click-through: the tracked link redirects to the certificate and records the click.
    const tracked = linksOf(completed[0].parsed.html as string).find(l =>
      l.includes("/notifications/click/"),
    );
    expect(tracked).toBeDefined();
    const res = await fetch(viaGateway(tracked as string), { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe(`${PUBLIC_URL}/certificates/${certificateId}`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    // The Location came from ctx.meta.$location: moleculer-web had nothing to warn about.
    expect(gatewayWarnings.filter(line => line.includes("$location"))).toEqual([]);
    const rows = await rowsOf(
      `SELECT click_count FROM notify.emails WHERE user_id = :userId AND template = 'course-completed'`,
      { userId },
    );
    expect(rows[0].click_count).toBe(1);
    // A forged click token is not an open redirect.
    const forged = await fetch(`${gateway.apiUrl}/notifications/click/eyJ4IjoxfQ.AAAA`, {
      redirect: "manual",
    });
    expect(forged.status).toBe(404);
  });

  it("when the tracking pixel is fetched, then the mail is marked opened", async () => {
    const { email } = await newUser("pixel");
    const [mail] = mailsTo(email);
    const pixel = /<img[^>]+src="([^"]+\/notifications\/open\/[^"]+\.gif)"/.exec(
      mail.parsed.html as string,
    )?.[1];
    expect(pixel).toBeDefined();
    await waitUntil(
      async () =>
        (await emailsOf(email)).rows.find(r => r.template === "welcome")?.status === "sent",
      5000,
      "sent recorded",
    );
    const res = await fetch(viaGateway(pixel as string));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("image/gif");
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.subarray(0, 6).toString("latin1")).toBe("GIF89a");
    const row = (await emailsOf(email)).rows.find(r => r.template === "welcome");
    expect(row?.status).toBe("opened");
    expect(row?.openedAt).not.toBeNull();
    // A made-up token still gets a pixel, and changes nothing.
    const bogus = await fetch(`${gateway.apiUrl}/notifications/open/not-a-token.gif`);
    expect(bogus.status).toBe(200);
  });

  it("when the one-click unsubscribe is posted, then only that category of that recipient stops", async () => {
    const { userId, email, meta } = await newUser("unsub");
    const other = await newUser("unsub-other");
    await emit("progress.streak.reminder_due", {
      userId,
      currentStreak: 3,
      localDate: "2026-11-20",
    });
    await emit("progress.streak.reminder_due", {
      userId: other.userId,
      currentStreak: 3,
      localDate: "2026-11-20",
    });
    await smtp.waitFor(() => mailsTo(email).length >= 2 && mailsTo(other.email).length >= 2);
    const reminder = mailsTo(email).find(m => m.parsed.subject?.includes("streak")) as CaughtMail;
    const target = /^<(.+)>$/.exec(reminder.header("list-unsubscribe") as string)?.[1] as string;
    // RFC 8058: the POST a mail client sends to that URL, as the gateway hands it to notify.
    const token = decodeURIComponent(target.split("/").pop() as string);
    const answer = await notifyA.call("notify.unsubscribe", {
      token,
      "List-Unsubscribe": "One-Click",
    });
    expect(answer).toEqual({ unsubscribed: true, category: "reminders" });
    const prefs = await notifyA.call<{ email: Record<string, boolean> }, Record<string, unknown>>(
      "notify.getPreferences",
      {},
      { meta },
    );
    expect(prefs.email).toEqual({
      marketing: false,
      achievements: true,
      reminders: false,
      social: true,
      security: true,
    });
    const otherPrefs = await notifyA.call<
      { email: Record<string, boolean> },
      Record<string, unknown>
    >("notify.getPreferences", {}, { meta: other.meta });
    expect(otherPrefs.email.reminders).toBe(true);
    await emit("progress.streak.reminder_due", {
      userId,
      currentStreak: 4,
      localDate: "2026-11-21",
    });
    await emit("progress.achievement.unlocked", {
      userId,
      code: "c1",
      name: "Still subscribed",
      unlockedAt: new Date().toISOString(),
    });
    await smtp.waitFor(() =>
      mailsTo(email).some(m => m.parsed.subject?.includes("Still subscribed")),
    );
    await settle();
    expect(mailsTo(email).filter(m => m.parsed.subject?.includes("streak"))).toHaveLength(1);
  });

  it("when the unsubscribe link in the mail body is opened (GET), then a confirmation page shows and nothing changes until its button posts", async () => {
    const { email, meta } = await newUser("unsubget");
    await notifyA.call("notify.updatePreferences", { email: { marketing: true } }, { meta });
    await emit("content.course.published", {
      courseId: uuidv7(),
      version: 1,
      title: "Phrasal Verbs",
      level: "B1",
      topics: [],
    });
    await smtp.waitFor(() => mailsTo(email).some(m => m.parsed.subject?.includes("Phrasal Verbs")));
    const mail = mailsTo(email).find(m =>
      m.parsed.subject?.includes("Phrasal Verbs"),
    ) as CaughtMail;
    const link = linksOf(mail.parsed.html as string).find(l =>
      l.includes("/notifications/unsubscribe/"),
    ) as string;
    const marketing = async () =>
      (
        await notifyA.call<{ email: Record<string, boolean> }, Record<string, unknown>>(
          "notify.getPreferences",
          {},
          { meta },
        )
      ).email.marketing;

    // A link scanner (or the recipient) opening the link: a page, and the preference stays.
    const page = await fetch(viaGateway(link), { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(page.headers.get("cache-control")).toBe("no-store");
    const html = await page.text();
    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain("new course and news");
    expect(html).not.toMatch(/<script/i);
    // The form posts back to the page's own address (no action attribute: the token is not repeated).
    const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
    expect(form?.[1]).toMatch(/method="post"/i);
    expect(form?.[1]).not.toMatch(/action=/i);
    expect(form?.[2]).toMatch(/<button[^>]*type="submit"/i);
    // Every inline style is allowed by its hash, nothing else.
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)?.[1] ?? "";
    const hash = createHash("sha256").update(style).digest("base64");
    expect(csp).toContain(`style-src 'sha256-${hash}'`);
    expect(await marketing()).toBe(true);

    // The button: a browser's form post, answered with a page.
    const done = await fetch(viaGateway(link), {
      method: "POST",
      headers: {
        accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "",
    });
    expect(done.status).toBe(200);
    expect(done.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await done.text()).toContain("unsubscribed");
    expect(await marketing()).toBe(false);

    const tampered = viaGateway(link.slice(0, -2) + (link.endsWith("AA") ? "BB" : "AA"));
    expect((await fetch(tampered)).status).toBe(400);
    expect((await fetch(tampered, { method: "POST" })).status).toBe(400);
  });

  it("when preferences switch a category off, then its mail stops but in-app notifications stay; marketing needs an opt-in", async () => {
    const { userId, email, meta } = await newUser("prefs");
    const updated = await notifyA.call<{ email: Record<string, boolean> }, Record<string, unknown>>(
      "notify.updatePreferences",
      { email: { achievements: false } },
      { meta },
    );
    expect(updated.email).toEqual({
      marketing: false,
      achievements: false,
      reminders: true,
      social: true,
      security: true,
    });
    await emit("progress.achievement.unlocked", {
      userId,
      code: "quiet",
      name: "Quiet badge",
      unlockedAt: new Date().toISOString(),
    });
    await emit("content.course.published", {
      courseId: uuidv7(),
      version: 1,
      title: "Not for prefs",
      level: "C1",
      topics: [],
    });
    await emit("progress.streak.reminder_due", {
      userId,
      currentStreak: 2,
      localDate: "2026-11-20",
    });
    await smtp.waitFor(() => mailsTo(email).some(m => m.parsed.subject?.includes("streak")));
    await settle(1000);
    expect(mailsTo(email).some(m => m.parsed.subject?.includes("Quiet badge"))).toBe(false);
    expect(mailsTo(email).some(m => m.parsed.subject?.includes("Not for prefs"))).toBe(false);
    const page = await notifyA.call<
      { rows: Array<{ kind: string; title: string }> },
      Record<string, unknown>
    >("notify.notifications", {}, { meta });
    expect(page.rows.map(r => r.kind)).toEqual(
      expect.arrayContaining(["achievement_unlocked", "new_course"]),
    );
    await expect(
      notifyA.call("notify.updatePreferences", { email: { marketing: "yes" } }, { meta }),
    ).rejects.toMatchObject({ code: 422 });
    await expect(
      notifyA.call("notify.updatePreferences", { email: { sms: true } }, { meta }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it("when a streak reminder is due twice on one local day, then only one mail goes", async () => {
    const { userId, email } = await newUser("streak");
    await emit("progress.streak.reminder_due", {
      userId,
      currentStreak: 9,
      localDate: "2026-11-20",
    });
    await emit("progress.streak.reminder_due", {
      userId,
      currentStreak: 9,
      localDate: "2026-11-20",
    });
    await smtp.waitFor(() => mailsTo(email).some(m => m.parsed.subject?.includes("9-day")));
    await settle(1200);
    expect(mailsTo(email).filter(m => m.parsed.subject?.includes("9-day"))).toHaveLength(1);
  });

  it('when a streak is one day long, then the mail says "1 day in a row"; longer streaks say days', async () => {
    const one = await newUser("streak-one");
    const two = await newUser("streak-two");
    await emit("progress.streak.reminder_due", {
      userId: one.userId,
      currentStreak: 1,
      localDate: "2026-11-20",
    });
    await emit("progress.streak.reminder_due", {
      userId: two.userId,
      currentStreak: 2,
      localDate: "2026-11-20",
    });
    await smtp.waitFor(
      () =>
        mailsTo(one.email).some(m => m.parsed.subject?.includes("-day streak")) &&
        mailsTo(two.email).some(m => m.parsed.subject?.includes("-day streak")),
    );
    const [single] = mailsTo(one.email).filter(m => m.parsed.subject?.includes("-day streak"));
    const [plural] = mailsTo(two.email).filter(m => m.parsed.subject?.includes("-day streak"));
    expect(single.parsed.text).toContain("1 day in a row!");
    expect(single.parsed.html).toContain("1 day in a row!");
    expect(`${single.parsed.text}${single.parsed.html}`).not.toContain("1 days");
    expect(plural.parsed.text).toContain("2 days in a row!");
    expect(plural.parsed.html).toContain("2 days in a row!");
  });

  it("when a learner's locale is Spanish, then their security mail and receipt are in Spanish, the amount and date as Spain writes them", async () => {
    const { userId, email } = await newUser("es");
    await emit("user.updated", {
      userId,
      name: "Learner es",
      timezone: "Europe/Madrid",
      locale: "es",
      sequence: 2,
    });
    await waitUntil(
      async () =>
        (
          await rowsOf(
            `SELECT 1 FROM notify.delivery_settings WHERE user_id = :userId AND locale = 'es'`,
            {
              userId,
            },
          )
        ).length === 1,
      15_000,
      "the locale kept",
    );
    await emit("user.security_changed", { userId, what: "password", sequence: 3 });
    await emit("user.identity_linked", { userId, provider: "Google", sequence: 4 });
    await emit("billing.invoice.paid", {
      sequence: 1,
      userId,
      invoiceId: `in_${userId.slice(-8)}`,
      number: "LM-0042",
      amount: 123456,
      currency: "eur",
      paidAt: "2026-12-01T10:00:00Z",
      pdfUrl: null,
    });
    const of = (template: string) =>
      mailsTo(email).filter(m => m.header("x-lingomesh-template") === template);
    await smtp.waitFor(() => of("security-notice").length === 2 && of("receipt").length === 1);
    const security = of("security-notice")
      .map(m => m.parsed.subject)
      .sort();
    expect(security).toEqual([
      "Se ha cambiado tu contraseña",
      "Se ha vinculado un proveedor de inicio de sesión a tu cuenta",
    ]);
    const password = of("security-notice").find(m => m.parsed.subject?.includes("contraseña"));
    expect(password?.parsed.text).toContain("Hola, Learner es:");
    expect(password?.parsed.text).toContain("Si has sido tú, no tienes que hacer nada.");
    expect(password?.parsed.html).toContain('<html lang="es"');
    const linked = of("security-notice").find(m => m.parsed.subject?.includes("proveedor"));
    expect(linked?.parsed.text).toContain("con tu cuenta de Google.");
    const [receipt] = of("receipt");
    expect(receipt.parsed.subject).toBe("Tu recibo de Lingomesh LM-0042");
    expect(receipt.parsed.text).toContain(
      "Hemos recibido tu pago de 1234,56\u00a0€ por Lingomesh Premium el 1 de diciembre de 2026.",
    );
    expect(receipt.parsed.html).toContain("<strong>1234,56\u00a0€</strong>");
    for (const mail of [...of("security-notice"), receipt])
      expect(
        `${mail.parsed.subject}\n${mail.parsed.text}`.replace(/https?:\/\/\S+/g, ""),
      ).not.toMatch(/\b(your|the|you)\b/i);
  });

  it("when a course is published, then its mail and in-app text name its topics, not their slugs", async () => {
    const { userId, email, meta } = await newUser("topics");
    await notifyA.call("notify.updatePreferences", { email: { marketing: true } }, { meta });
    await emit("content.course.published", {
      courseId: uuidv7(),
      version: 1,
      title: "On the Phone",
      level: "A2",
      topics: ["phone", "everyday-english"],
      topicNames: ["Phone calls", "Everyday English"],
    });
    await smtp.waitFor(() => mailsTo(email).some(m => m.parsed.subject?.includes("On the Phone")));
    const mail = mailsTo(email).find(m => m.parsed.subject?.includes("On the Phone")) as CaughtMail;
    expect(mail.parsed.text).toContain("about Phone calls, Everyday English");
    expect(mail.parsed.html).toContain("about Phone calls, Everyday English");
    expect(`${mail.parsed.text}${mail.parsed.html}`).not.toContain("everyday-english");
    const inbox = await notifyA.call<
      { rows: Array<{ kind: string; body: string; data: { topics: string[] } }> },
      Record<string, unknown>
    >("notify.notifications", {}, { meta: { user: { id: userId, roles: ["learner"] } } });
    const note = inbox.rows.find(r => r.kind === "new_course");
    expect(note?.body).toBe("A new A2 course is available (Phone calls, Everyday English).");
    // The machine-readable part keeps the slugs clients filter with.
    expect(note?.data.topics).toEqual(["phone", "everyday-english"]);
  });

  it("when lessons are completed, then in-app notifications list newest first with the unread count, and only the owner can mark one read", async () => {
    const { userId, meta } = await newUser("inapp");
    const stranger = await newUser("stranger");
    const courseId = uuidv7();
    await emit("progress.lesson.completed", {
      userId,
      lessonId: uuidv7(),
      courseId,
      score: 9,
      xpEarned: 10,
      completedAt: new Date().toISOString(),
    });
    await emit("progress.lesson.completed", {
      userId,
      lessonId: uuidv7(),
      courseId,
      score: 10,
      xpEarned: 15,
      completedAt: new Date().toISOString(),
    });
    type Page = {
      rows: Array<{ id: string; kind: string; body: string; read: boolean }>;
      unread: number;
      total: number;
      page: number;
      pageSize: number;
      totalPages: number;
    };
    const page = await waitUntil(
      async () => {
        const p = await notifyA.call<Page, Record<string, unknown>>(
          "notify.notifications",
          { page: 1, pageSize: 20 },
          { meta },
        );
        return p.total === 2 ? p : undefined;
      },
      10_000,
      "two notifications",
    );
    expect(page).toMatchObject({ unread: 2, page: 1, pageSize: 20, totalPages: 1 });
    expect(page.rows[0].body).toContain("15 XP");
    await expect(
      notifyA.call("notify.markRead", { id: page.rows[0].id }, { meta: stranger.meta }),
    ).rejects.toMatchObject({ code: 404 });
    await expect(notifyA.call("notify.markRead", { id: "nope" }, { meta })).rejects.toMatchObject({
      code: 404,
    });
    const callMeta: Record<string, unknown> = { ...meta };
    await notifyA.call("notify.markRead", { id: page.rows[0].id }, { meta: callMeta });
    const after = await notifyA.call<Page, Record<string, unknown>>(
      "notify.notifications",
      {},
      { meta },
    );
    expect(after.unread).toBe(1);
    expect(after.rows[0].read).toBe(true);
    expect(await notifyA.call("notify.unreadCount", {}, { meta })).toEqual({ unread: 1 });
    const strangers = await notifyA.call<Page, Record<string, unknown>>(
      "notify.notifications",
      {},
      { meta: stranger.meta },
    );
    expect(strangers.total).toBe(0);
  });

  it("when SMTP answers 4xx, then the mail is retried with back-off until accepted; 5xx fails it with the reason kept", async () => {
    smtp.rejectNext(2, 451);
    const { email } = await newUser("greylist");
    const welcome = await waitUntil(
      async () =>
        (await emailsOf(email)).rows.find(r => r.template === "welcome" && r.status === "sent"),
      10_000,
      "sent",
    );
    expect(welcome.attempts).toBe(3);
    smtp.rejectNext(1, 550);
    const userId = uuidv7();
    const hard = `hard-${userId.slice(-6)}@example.test`;
    await emit("user.created", {
      userId,
      email: hard,
      name: "Hard bounce",
      timezone: "UTC",
      verificationToken: "x",
    });
    const failed = await waitUntil(
      async () =>
        (await emailsOf(hard)).rows.find(r => r.template === "welcome" && r.status === "failed"),
      10_000,
      "failed",
    );
    expect(failed.attempts).toBe(1);
    expect(failed.smtpResponse).toMatch(/550/);
  });

  it("when SMTP is down, then mails wait and all go out exactly once when it is back", async () => {
    await smtp.close();
    const users = Array.from({ length: 3 }, () => ({ userId: uuidv7() }));
    const addresses = users.map(u => `down-${u.userId.slice(-6)}@example.test`);
    for (const [i, u] of users.entries()) {
      await emit("user.created", {
        userId: u.userId,
        email: addresses[i],
        name: "Waiting",
        timezone: "UTC",
        verificationToken: `t${i}`,
      });
    }
    // Tried and refused at least once while the server is away.
    await waitUntil(
      async () => {
        const rows = await rowsOf(
          `SELECT attempts, status, last_error FROM notify.emails WHERE to_address IN (:addresses) AND template = 'welcome'`,
          { addresses },
        );
        return rows.length === 3 &&
          rows.every(r => (r.attempts as number) >= 1 && r.status === "queued" && r.last_error)
          ? rows
          : undefined;
      },
      10_000,
      "refused while down",
    );
    await smtp.restart();
    await smtp.waitFor(() => addresses.every(a => mailsTo(a).length === 1), 20_000);
    await settle();
    for (const a of addresses) expect(mailsTo(a)).toHaveLength(1);
  });

  it("when the recipient is not known locally, then users.profiles is asked outside the batch transaction and the mail still goes", async () => {
    const userId = uuidv7();
    const email = `profile-${userId.slice(-6)}@example.test`;
    const openDuringCall: number[] = [];
    const users = await startBroker(`profiles-${userId.slice(-6)}`, env, [
      {
        name: "users",
        actions: {
          profiles: {
            handler: async (ctx: { params: { ids: string[] } }) => {
              // A consumer transaction left waiting on this call shows as idle in transaction.
              const [row] = await rowsOf(
                `SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database()
                   AND state = 'idle in transaction' AND query ILIKE '%recipients%'`,
                {},
              );
              openDuringCall.push(Number(row.n));
              return ctx.params.ids.map(id => ({
                id,
                email,
                name: "From Profiles",
                timezone: "UTC",
                dailyGoalXp: 20,
                emailVerified: true,
                nativeLanguage: "fr",
              }));
            },
          },
        },
      } as unknown as ServiceSchema,
    ]);
    try {
      await notifyA.waitForServices("users", 5000);
      await emit("progress.achievement.unlocked", {
        userId,
        code: "p",
        name: "Profile badge",
        unlockedAt: new Date().toISOString(),
      });
      const [mail] = await smtp
        .waitFor(() => mailsTo(email).length === 1)
        .then(() => mailsTo(email));
      expect(mail.parsed.text).toContain("From Profiles");
      // Asked before the batch's transaction opened, never while holding it.
      expect(openDuringCall).toEqual([0]);
    } finally {
      await users.stop();
    }
  });

  it("when two notify nodes run, then they share the work and no mail goes twice", async () => {
    const notifyB = await startBroker(`${env.NAMESPACE}-notify-b`, env, [notifySchema()]);
    try {
      const statsOf = (b: ServiceBroker) =>
        (b.getLocalService("notify") as unknown as { sender: { stats: { sent: number } } }).sender
          .stats;
      const baseA = statsOf(notifyA).sent;
      const addresses: string[] = [];
      for (let i = 0; i < 20; i++) {
        const userId = uuidv7();
        addresses.push(`pair-${userId.slice(-6)}@example.test`);
        await emit("user.created", {
          userId,
          email: addresses[i],
          name: `Pair ${i}`,
          timezone: "UTC",
          verificationToken: `p${i}`,
        });
      }
      await smtp.waitFor(() => addresses.every(a => mailsTo(a).length >= 1), 20_000);
      await settle(1000);
      for (const a of addresses) expect(mailsTo(a)).toHaveLength(1);
      const sentA = statsOf(notifyA).sent - baseA;
      const sentB = statsOf(notifyB).sent;
      expect(sentA + sentB).toBe(20);
      expect(sentB).toBeGreaterThan(0);
    } finally {
      await notifyB.stop();
    }
  });

  it("when a user is deleted, then their mails, notifications and preferences are erased", async () => {
    const { userId, meta } = await newUser("erase");
    await notifyA.call("notify.updatePreferences", { email: { marketing: true } }, { meta });
    await emit("progress.lesson.completed", {
      userId,
      lessonId: uuidv7(),
      courseId: uuidv7(),
      score: 1,
      xpEarned: 5,
      completedAt: new Date().toISOString(),
    });
    await waitUntil(
      async () =>
        (await rowsOf(`SELECT 1 FROM notify.notifications WHERE user_id = :userId`, { userId }))
          .length === 1,
      10_000,
      "notification",
    );
    await emit("user.deleted", { userId });
    await waitUntil(
      async () => {
        const left = await rowsOf(
          `SELECT (SELECT count(*) FROM notify.emails WHERE user_id = :userId) + (SELECT count(*) FROM notify.notifications WHERE user_id = :userId)
           + (SELECT count(*) FROM notify.preferences WHERE user_id = :userId) + (SELECT count(*) FROM notify.recipients WHERE user_id = :userId) AS n`,
          { userId },
        );
        return Number(left[0].n) === 0;
      },
      10_000,
      "erased",
    );
  });

  it("when user.created and a progress event arrive after user.deleted, then notify writes nothing for that user again", async () => {
    const userId = uuidv7();
    const email = `late-${userId.slice(-6)}@example.test`;
    const meta = { user: { id: userId, roles: ["learner" as const] } };
    const ids = [(await emit("user.deleted", { userId })).id];
    ids.push(
      (
        await emit("user.created", {
          userId,
          email,
          name: "Learner late",
          timezone: "UTC",
          verificationToken: `vt-${userId}`,
        })
      ).id,
    );
    ids.push(
      (
        await emit("progress.lesson.completed", {
          userId,
          lessonId: uuidv7(),
          courseId: uuidv7(),
          score: 1,
          xpEarned: 5,
          completedAt: new Date().toISOString(),
        })
      ).id,
    );
    await waitUntil(
      async () =>
        (
          await rowsOf(`SELECT 1 FROM notify.processed_events WHERE event_id IN (:ids)`, {
            ids,
          })
        ).length === 3,
      10_000,
      "all three handled",
    );
    const left = await rowsOf(
      `SELECT (SELECT count(*) FROM notify.emails WHERE user_id = :userId) + (SELECT count(*) FROM notify.notifications WHERE user_id = :userId)
       + (SELECT count(*) FROM notify.recipients WHERE user_id = :userId) AS n`,
      { userId },
    );
    expect(Number(left[0].n)).toBe(0);
    // What the dashboard shows: no notification, none unread.
    const page = await notifyA.call<{ total: number }, Record<string, unknown>>(
      "notify.notifications",
      {},
      { meta },
    );
    expect(page.total).toBe(0);
    expect(await notifyA.call("notify.unreadCount", {}, { meta })).toEqual({ unread: 0 });
    await settle();
    expect(mailsTo(email)).toHaveLength(0);
  });

  it("when a user's events arrive out of order, then notify keeps the newest name and a verification handled before user.created is kept (no welcome, no reminder)", async () => {
    const handled = (ids: string[]) =>
      waitUntil(
        async () =>
          (await rowsOf(`SELECT 1 FROM notify.processed_events WHERE event_id IN (:ids)`, { ids }))
            .length === ids.length,
        10_000,
        "events handled",
      );
    const userId = uuidv7();
    const email = `order-${userId.slice(-6)}@example.test`;
    const verified = await emit("user.email_verified", { userId, sequence: 2 });
    await handled([verified.id]);
    const created = await emit("user.created", {
      userId,
      email,
      name: "Name 1",
      timezone: "UTC",
      verificationToken: `vt-${userId}`,
      sequence: 1,
    });
    await handled([created.id]);
    const newest = await emit("user.updated", {
      userId,
      name: "Name 4",
      timezone: "Asia/Tokyo",
      sequence: 4,
    });
    await handled([newest.id]);
    const older = await emit("user.updated", {
      userId,
      name: "Name 3",
      timezone: "UTC",
      sequence: 3,
    });
    await handled([older.id]);
    const [row] = await rowsOf(
      `SELECT name, timezone, email_verified FROM notify.recipients WHERE user_id = :userId`,
      { userId },
    );
    expect(row).toEqual({ name: "Name 4", timezone: "Asia/Tokyo", email_verified: true });
    const queued = await rowsOf(`SELECT template FROM notify.emails WHERE user_id = :userId`, {
      userId,
    });
    expect(queued).toEqual([]);
  });

  it("when the admin lists emails, then filters and contract pagination apply", async () => {
    const all = await notifyA.call<
      EmailListing & { page: number; pageSize: number; totalPages: number },
      Record<string, unknown>
    >("notify.emails", { pageSize: 5 }, { meta: admin });
    expect(all.rows).toHaveLength(5);
    expect(all.totalPages).toBe(Math.ceil(all.total / 5));
    const failed = await notifyA.call<EmailListing, Record<string, unknown>>(
      "notify.emails",
      { status: "failed" },
      { meta: admin },
    );
    expect(failed.rows.length).toBeGreaterThan(0);
    expect(failed.rows.every(r => r.status === "failed")).toBe(true);
    const resets = await notifyA.call<EmailListing, Record<string, unknown>>(
      "notify.emails",
      { template: "password-reset" },
      { meta: admin },
    );
    expect(resets.rows.every(r => r.template === "password-reset")).toBe(true);
    await expect(
      notifyA.call("notify.emails", { status: "bounced" }, { meta: admin }),
    ).rejects.toMatchObject({ code: 422 });
    await expect(
      notifyA.call("notify.emails", { pageSize: 500 }, { meta: admin }),
    ).rejects.toMatchObject({ code: 422 });
  });

  it("when an author previews a template, then it renders with sample values; a learner may not", async () => {
    const preview = await notifyA.call<
      { subject: string; html: string; text: string },
      Record<string, unknown>
    >(
      "notify.preview",
      { template: "new-course", data: { courseTitle: "Preview Course" } },
      { meta: { user: { id: "author-1", roles: ["author"] } } },
    );
    expect(preview.subject).toBe("New course: Preview Course");
    expect(preview.html).toContain("Preview Course");
    expect(preview.text).toContain("Alex Example");
    await expect(
      notifyA.call(
        "notify.preview",
        { template: "welcome" },
        { meta: { user: { id: "l", roles: ["learner"] } } },
      ),
    ).rejects.toMatchObject({ code: 403 });
    // Internal: the gateway routes none of it.
    const res = await fetch(`${gateway.apiUrl}/notify/preview`);
    expect(res.status).toBe(404);
  });

  it("when a mail client posts the RFC 8058 one-click form to the gateway, then it is accepted", async () => {
    const { email, meta } = await newUser("oneclick-http");
    await notifyA.call("notify.updatePreferences", { email: { marketing: true } }, { meta });
    await emit("content.course.published", {
      courseId: uuidv7(),
      version: 1,
      title: "One Click",
      level: "A1",
      topics: [],
    });
    await smtp.waitFor(() => mailsTo(email).some(m => m.parsed.subject?.includes("One Click")));
    const mail = mailsTo(email).find(m => m.parsed.subject?.includes("One Click")) as CaughtMail;
    const target = /^<(.+)>$/.exec(mail.header("list-unsubscribe") as string)?.[1] as string;
    const res = await fetch(viaGateway(target), {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ unsubscribed: true, category: "marketing" });
    const prefs = await notifyA.call<{ email: Record<string, boolean> }, Record<string, unknown>>(
      "notify.getPreferences",
      {},
      { meta },
    );
    expect(prefs.email.marketing).toBe(false);
  });
});
