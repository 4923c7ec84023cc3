import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import { chromium } from "playwright-core";
import { QueryTypes, type Sequelize } from "sequelize";
import { v7 as uuidv7 } from "uuid";
import type { DomainEventType, DomainEvents } from "../../models/events.model";
import type { NotifySettings } from "../../services/notify.service";
import { requireTool } from "../deploy/deploy-support";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import {
  notifySchema,
  producerSchema,
  startBroker,
  startSmtpCatcher,
  waitUntil,
  type CaughtMail,
  type SmtpCatcher,
} from "./notify.helpers";

/**
 * Daily and weekly digests on two notify nodes over NATS, RabbitMQ and PostgreSQL, with the
 * real progress service answering the due reviews: the nodes' clocks are moved to the
 * learner's morning and both run their digest rounds; the real SMTP server on loopback
 * counts what arrives.
 */

const PUBLIC_URL = "https://learn.example.test";
const ZONE = "Asia/Ho_Chi_Minh"; // UTC+7 all year: local times below are exact
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const localDateNow = (): string =>
  new Intl.DateTimeFormat("en-CA", { timeZone: ZONE }).format(new Date());
const addDays = (date: string, days: number): string =>
  new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
const at = (date: string, hhmm: string): Date => new Date(`${date}T${hhmm}:00+07:00`);

describe("notify digests: one mail per learner and period in their morning, on two nodes", () => {
  let db: TestDatabase;
  let smtp: SmtpCatcher;
  let producer: ServiceBroker;
  let notifyNodes: ServiceBroker[];
  let progress: TestNode;
  const today = localDateNow();
  const tomorrow = addDays(today, 1);

  const emit = <T extends DomainEventType>(type: T, data: DomainEvents[T]) =>
    producer.call("eventsource.emit", { type, data });
  const sql = () =>
    (notifyNodes[0].getLocalService("notify") as unknown as { sequelize: Sequelize }).sequelize;
  const digestsTo = (email: string): CaughtMail[] =>
    smtp.mails.filter(
      m => m.envelopeTo.includes(email) && m.header("x-lingomesh-template") === "digest",
    );
  const setClocks = (now: Date) => {
    for (const node of notifyNodes)
      (node.getLocalService("notify") as unknown as { clock: () => Date }).clock = () => now;
  };
  /** Both nodes' timers run several rounds at `now` (every 150 ms), then each runs one more at once. */
  const runMorning = async (now: Date) => {
    setClocks(now);
    await new Promise(r => setTimeout(r, 1500));
    await Promise.all(
      notifyNodes.map(node => node.call("notify.runDigests", { at: now.toISOString() })),
    );
    await new Promise(r => setTimeout(r, 700));
  };

  const learner = async (label: string, digest: "off" | "daily" | "weekly") => {
    const userId = uuidv7();
    const email = `${label}-${userId.slice(-6)}@example.test`;
    await emit("user.created", {
      userId,
      email,
      name: `Learner ${label}`,
      timezone: ZONE,
      verificationToken: `vt-${userId}`,
    });
    await smtp.waitFor(mails => mails.some(m => m.envelopeTo.includes(email)));
    await notifyNodes[1].call(
      "notify.updatePreferences",
      { digest },
      { meta: { user: { id: userId, roles: ["learner"] } } },
    );
    return { userId, email };
  };

  /** Yesterday (from the digest morning's view) the learner earned 30 + 15 XP in two lessons. */
  const learnToday = async (userId: string) => {
    await emit("progress.xp.awarded", {
      userId,
      xp: 30,
      total: 130,
      reason: "lesson",
      sequence: 1,
    });
    await emit("progress.xp.awarded", {
      userId,
      xp: 15,
      total: 145,
      reason: "lesson",
      sequence: 2,
    });
    for (const lessonId of ["l-1", "l-2"])
      await emit("progress.lesson.completed", {
        userId,
        lessonId,
        courseId: "c-1",
        score: 0.9,
        xpEarned: 0,
        completedAt: new Date().toISOString(),
      });
    await emit("progress.streak.changed", {
      userId,
      current: 4,
      longest: 6,
      localDate: today,
      sequence: 3,
    });
  };

  const addDueCards = async (userId: string, dueCount: number) => {
    const progressDb = (
      progress.broker.getLocalService("progress") as unknown as { sequelize: Sequelize }
    ).sequelize;
    for (let i = 0; i < dueCount + 1; i += 1) {
      // The last card is due next month: not counted.
      const due =
        i < dueCount ? new Date(Date.now() - 3600_000) : new Date(Date.now() + 30 * 86_400_000);
      await progressDb.query(
        `INSERT INTO progress.review_cards (user_id, card_id, lesson_id, course_id, front, back, due,
           stability, difficulty, elapsed_days, scheduled_days, learning_steps, reps, lapses, state)
         VALUES (:userId, :cardId, 'l-1', 'c-1', 'hello', 'xin chào', :due, 1, 5, 0, 1, 0, 1, 0, 2)`,
        { replacements: { userId, cardId: `card-${i}`, due } },
      );
    }
  };

  beforeAll(async () => {
    await requireServers("postgres", "rabbitmq", "nats", "redis");
    db = await createTestDatabase("lm_digest");
    smtp = await startSmtpCatcher();
    const namespace = uniqueName("digest");
    const env = {
      ...clusterEnv(namespace, db.url),
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      PUBLIC_URL,
      DATA_DIR: tempDataDir("digest"),
      MAIL_FROM: "Lingomesh Test <no-reply@example.test>",
    };
    const base = notifySchema();
    const settings = base.settings as NotifySettings;
    const notify = {
      ...base,
      settings: { ...settings, digest: { ...settings.digest, intervalMs: 150 } },
    } as ServiceSchema;
    producer = await startBroker(`${namespace}-producer`, env, [
      producerSchema as unknown as ServiceSchema,
    ]);
    notifyNodes = await Promise.all(
      ["a", "b"].map(node => startBroker(`${namespace}-notify-${node}`, env, [notify])),
    );
    progress = await startTestNode(["progress"], { ...env, NODE_ID: `${namespace}-progress` });
    for (const node of notifyNodes) await node.waitForServices(["progress"], 20_000);
    // Until the test moves them, the nodes' clocks stand before anyone's digest morning.
    setClocks(at(today, "05:00"));
  }, 90_000);

  afterAll(async () => {
    await progress?.stop();
    await Promise.all((notifyNodes ?? []).map(node => node.stop()));
    await producer?.stop();
    await smtp?.close();
    await db?.drop();
  }, 60_000);

  it("sends `daily` learners exactly one digest at their morning, `off` learners none, and waits out quiet hours", async () => {
    const daily = await learner("dora", "daily");
    const off = await learner("otto", "off");
    const quiet = await learner("quinn", "daily");
    await emit("user.updated", {
      userId: quiet.userId,
      name: "Learner quinn",
      timezone: ZONE,
      quietHours: { start: "07:00", end: "09:00" },
      sequence: 5,
    });
    for (const { userId } of [daily, off, quiet]) await learnToday(userId);
    await addDueCards(daily.userId, 3);
    await waitUntil(
      async () => {
        const rows = await sql().query<{ n: string }>(
          `SELECT count(*) AS n FROM notify.digest_standing WHERE streak = 4 AND total_xp = 145`,
          { type: QueryTypes.SELECT },
        );
        const quietRows = await sql().query(
          `SELECT 1 FROM notify.delivery_settings WHERE user_id = :id AND quiet_hours IS NOT NULL`,
          { type: QueryTypes.SELECT, replacements: { id: quiet.userId } },
        );
        return Number(rows[0]?.n) === 3 && quietRows.length === 1;
      },
      20_000,
      "the progress events tallied",
    );

    // Before the morning window: nothing.
    await runMorning(at(tomorrow, "07:30"));
    expect(smtp.mails.filter(m => m.header("x-lingomesh-template") === "digest")).toHaveLength(0);

    // 08:05 local: the daily learner's one digest; the quiet learner's waits; `off` gets none.
    await runMorning(at(tomorrow, "08:05"));
    await smtp.waitFor(() => digestsTo(daily.email).length >= 1);
    await runMorning(at(tomorrow, "08:20"));
    expect(digestsTo(daily.email)).toHaveLength(1);
    expect(digestsTo(off.email)).toHaveLength(0);
    expect(digestsTo(quiet.email)).toHaveLength(0);

    const mail = digestsTo(daily.email)[0];
    expect(mail.parsed.subject).toBe("Learner dora, your day on Lingomesh: 45 XP");
    const html = mail.parsed.html as string;
    const figure = (name: string) =>
      new RegExp(`class="digest-${name}"[\\s\\S]*?>\\s*(?:<[^>]+>\\s*)*(\\d+)\\s*<`).exec(
        html,
      )?.[1];
    expect(figure("xp")).toBe("45");
    expect(figure("streak")).toBe("4");
    expect(figure("lessons")).toBe("2");
    expect(figure("reviews")).toBe("3");
    expect(html).toContain('src="cid:week-xp@lingomesh"');
    expect(mail.parsed.text).toContain("Reviews due: 3");
    expect(mail.parsed.text).toContain("145 XP in total.");
    const chart = mail.parsed.attachments.find(a => a.contentId === "<week-xp@lingomesh>");
    expect(chart?.mimeType).toBe("image/png");
    const png = Buffer.from(chart?.content as ArrayBuffer);
    expect(png.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
    expect(png.readUInt32BE(16)).toBe(1040); // IHDR width: the 520-px chart at 2×
    expect(mail.header("list-unsubscribe")).toMatch(/notifications\/unsubscribe\//);

    // Once quiet hours end (09:00) the quiet learner's digest goes, once; nobody gets a second.
    await runMorning(at(tomorrow, "09:05"));
    await smtp.waitFor(() => digestsTo(quiet.email).length >= 1);
    await runMorning(at(tomorrow, "09:20"));
    expect(digestsTo(quiet.email)).toHaveLength(1);
    expect(digestsTo(daily.email)).toHaveLength(1);
    expect(digestsTo(off.email)).toHaveLength(0);

    const claims = await sql().query<{ user_id: string; period: string }>(
      `SELECT user_id, period FROM notify.digests_sent ORDER BY user_id`,
      { type: QueryTypes.SELECT },
    );
    expect(claims).toEqual(
      [
        { user_id: daily.userId, period: tomorrow },
        { user_id: quiet.userId, period: tomorrow },
      ].sort((x, y) => x.user_id.localeCompare(y.user_id)),
    );

    await saveRenderedSample(mail);
  }, 90_000);

  it("sends a Vietnamese learner their digest in Vietnamese, with figures and weekdays as Vietnam writes them", async () => {
    // The timers must not send this learner's digest before their events are tallied.
    setClocks(at(today, "05:00"));
    const vy = await learner("vy", "daily");
    await emit("user.updated", {
      userId: vy.userId,
      name: "Learner vy",
      timezone: ZONE,
      locale: "vi",
      sequence: 5,
    });
    await learnToday(vy.userId);
    await emit("progress.xp.awarded", {
      userId: vy.userId,
      xp: 1200,
      total: 12345,
      reason: "lesson",
      sequence: 4,
    });
    await waitUntil(
      async () =>
        (
          await sql().query(
            `SELECT 1 FROM notify.digest_standing s JOIN notify.delivery_settings d USING (user_id)
              WHERE s.user_id = :id AND s.total_xp = 12345 AND s.streak = 4 AND d.locale = 'vi'`,
            { type: QueryTypes.SELECT, replacements: { id: vy.userId } },
          )
        ).length === 1,
      20_000,
      "the Vietnamese learner's events tallied",
    );
    await runMorning(at(tomorrow, "08:40"));
    await smtp.waitFor(() => digestsTo(vy.email).length >= 1);
    const [mail] = digestsTo(vy.email);
    expect(mail.parsed.subject).toBe("Learner vy ơi, một ngày của bạn trên Lingomesh: 1.245 XP");
    const text = mail.parsed.text as string;
    expect(text).toContain("Chào Learner vy, đây là kết quả học tập hôm qua của bạn.");
    expect(text).toContain("Chuỗi ngày học: 4 ngày");
    expect(text).toContain("Bài học đã hoàn thành: 2");
    expect(text).toContain("Tổng cộng 12.345 XP.");
    // The chart's days are Vietnamese weekdays ("Thứ 2" … "CN"), yesterday's bar 1.245 XP.
    const weekday = new Intl.DateTimeFormat("vi", { weekday: "short", timeZone: "UTC" }).format(
      new Date(`${today}T12:00:00Z`),
    );
    expect(text).toContain(`${weekday} 1.245`);
    expect(text).toMatch(/XP trong 7 ngày qua \(1\.245 XP\): (Thứ \d|CN) /);
    expect(mail.parsed.html).toContain('<html lang="vi"');
    expect(mail.parsed.html).toContain("Hủy nhận email về bản tóm tắt");
    expect(`${mail.parsed.subject}\n${text}`.replace(/https?:\/\/\S+/g, "")).not.toMatch(
      /\b(your|day|lessons|reviews)\b/i,
    );
  }, 60_000);

  it("sends a `weekly` learner one digest on Monday morning with the week's XP", async () => {
    const weekly = await learner("wes", "weekly");
    await learnToday(weekly.userId);
    await waitUntil(
      async () =>
        (
          await sql().query(
            `SELECT 1 FROM notify.digest_standing WHERE user_id = :id AND streak = 4`,
            { type: QueryTypes.SELECT, replacements: { id: weekly.userId } },
          )
        ).length === 1,
      20_000,
      "the weekly learner's events tallied",
    );
    let monday = addDays(today, 1);
    while (new Date(`${monday}T12:00:00Z`).getUTCDay() !== 1) monday = addDays(monday, 1);
    await runMorning(at(addDays(monday, -1), "08:10"));
    expect(digestsTo(weekly.email)).toHaveLength(0);

    await runMorning(at(monday, "08:10"));
    await smtp.waitFor(() => digestsTo(weekly.email).length >= 1);
    await runMorning(at(monday, "10:00"));
    expect(digestsTo(weekly.email)).toHaveLength(1);
    const mail = digestsTo(weekly.email)[0];
    // The week before this Monday holds today when today is within its seven days.
    const weekXp = addDays(monday, -7) <= today ? 45 : 0;
    expect(mail.parsed.subject).toBe(`Learner wes, your week on Lingomesh: ${weekXp} XP`);
    expect(mail.parsed.text).toContain(`XP in the last 7 days (${weekXp} XP)`);
  }, 60_000);
});

/**
 * The digest as a mail client shows it (the cid: image inlined), rendered by headless
 * Chromium: a PNG in the test's temp folder, or at DIGEST_SAMPLE_PNG (docs/digest-sample.png).
 */
async function saveRenderedSample(mail: CaughtMail): Promise<void> {
  const chart = mail.parsed.attachments.find(a => a.contentId === "<week-xp@lingomesh>");
  const dataUri = `data:image/png;base64,${Buffer.from(chart?.content as ArrayBuffer).toString("base64")}`;
  const html = (mail.parsed.html as string).replace("cid:week-xp@lingomesh", dataUri);
  const browser = await chromium.launch({
    executablePath: requireTool("chromium"),
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 640, height: 900 } });
    await page.setContent(html, { waitUntil: "load" });
    const loaded = await page.evaluate(
      "document.querySelector('img[alt^=\"XP per day\"]')?.naturalWidth",
    );
    expect(loaded).toBe(1040);
    const target =
      process.env.DIGEST_SAMPLE_PNG ?? path.join(tempDataDir("digest-sample"), "digest.png");
    fs.mkdirSync(path.dirname(target), { recursive: true });
    await page.screenshot({ path: target, fullPage: true });
    expect(fs.readFileSync(target).subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
  } finally {
    await browser.close();
  }
}
