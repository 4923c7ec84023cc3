import crypto from "node:crypto";
import { STARTER_COURSES } from "../../../seeds/starter-course";
import { answerAs } from "../../support/placement-answers";
import { expectErrorShape, expectListShape, expectStatus, type ApiClient, type Json } from "./http";
import { linksOf, type Mailbox } from "./mail";
import { waitFor } from "./nodes";
import { totp } from "./totp";

export interface JourneyEnv {
  /** The gateway the learner talks to. */
  api: ApiClient;
  mailbox: Mailbox;
  /** PUBLIC_URL of the system: the links in mails start with it. */
  publicUrl: string;
}

/** What the journey learned, for the tests that come after it (cluster behaviour, restarts). */
export interface LearnerState {
  email: string;
  password: string;
  name: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  mfaSecret: string;
  courseId: string;
  lessons: Array<{ id: string; kind: string; order: number; title: string }>;
  xp: number;
}

const A1 = STARTER_COURSES.find(c => c.level === "A1")!;

/** The answer key of a starter quiz, from the seed file (never from the server), by prompt. */
function seedAnswers(lessonTitle: string): Map<string, unknown> {
  for (const course of STARTER_COURSES) {
    const lesson = course.lessons.find(l => l.title === lessonTitle);
    if (lesson) return new Map((lesson.questions ?? []).map(q => [q.prompt, q.answer]));
  }
  throw new Error(`no seeded lesson titled ${lessonTitle}`);
}

export function uniqueEmail(label: string): string {
  // Mixed case on purpose: addresses are stored normalised.
  return `${label}.${crypto.randomBytes(4).toString("hex")}@Example.com`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export const PASSWORD = "correct horse battery staple";

/**
 * The learner's whole journey through HTTP only, as `it` blocks run in order (each step
 * builds on the one before). `env` is read when the steps run, after the system is up.
 */
export function learnerJourney(env: () => JourneyEnv, label: string): LearnerState {
  const s = {
    email: uniqueEmail(label),
    password: PASSWORD,
    name: `Learner ${label}`,
    xp: 0,
  } as LearnerState;
  const auth = () => ({ token: s.accessToken });

  it("when a learner registers, then 201 with tokens and a welcome mail arrives with HTML and text parts and a verify link", async () => {
    const { api, mailbox, publicUrl } = env();
    const reg = expectStatus(
      await api.post("/auth/register", { email: s.email, password: s.password, name: s.name }),
      201,
    );
    expect(reg.body.user).toMatchObject({
      email: s.email.toLowerCase(),
      name: s.name,
      roles: ["learner"],
      emailVerified: false,
      mfaEnabled: false,
    });
    expect(reg.body.user).not.toHaveProperty("passwordHash");
    expect(typeof reg.body.accessToken).toBe("string");
    expect(typeof reg.body.refreshToken).toBe("string");
    expect(reg.body.expiresIn).toBeGreaterThan(0);
    expect(reg.body.expiresIn).toBeLessThanOrEqual(900);
    s.userId = reg.body.user.id;
    s.accessToken = reg.body.accessToken;

    const [mail] = await mailbox.waitFor(s.email, /^Welcome to Lingomesh/);
    expect(mail.subject).toContain(s.name);
    expect(mail.html).toMatch(/<html/i);
    expect(mail.html).toContain(s.name);
    expect(mail.text).toContain(s.name);
    const prefix = `${publicUrl}/verify-email?token=`;
    const htmlLink = linksOf(mail).find(l => l.startsWith(prefix));
    expect(htmlLink).toBeDefined();
    // The text part carries the same link, unwrapped (transactional links are never tracked).
    expect(mail.text).toContain(htmlLink);
    const token = new URL(htmlLink!).searchParams.get("token")!;
    expect(token.length).toBeGreaterThanOrEqual(22);

    expectStatus(await api.post("/auth/verify-email", { token }), 204, "verify");
    const me = expectStatus(await api.get("/me", auth()), 200);
    expect(me.body).toMatchObject({ id: s.userId, emailVerified: true });
    // Single use.
    expectErrorShape(await api.post("/auth/verify-email", { token }), 400);
  });

  it("when the learner logs in and refreshes, then new tokens come and the used refresh token stops working", async () => {
    const { api } = env();
    const login = expectStatus(
      await api.post("/auth/login", { email: s.email.toUpperCase(), password: s.password }),
      200,
      "login",
    );
    expect(login.body.user.id).toBe(s.userId);
    const refreshed = expectStatus(
      await api.post("/auth/refresh", { refreshToken: login.body.refreshToken }),
      200,
      "refresh",
    );
    expect(refreshed.body.refreshToken).not.toBe(login.body.refreshToken);
    expect(refreshed.body.accessToken).not.toBe(login.body.accessToken);
    s.accessToken = refreshed.body.accessToken;
    s.refreshToken = refreshed.body.refreshToken;
    expectStatus(await api.get("/me", auth()), 200);
    // Reuse of the rotated token is theft: 401 and that session family is revoked.
    expectErrorShape(
      await api.post("/auth/refresh", { refreshToken: login.body.refreshToken }),
      401,
    );
    const after = await api.post("/auth/refresh", { refreshToken: s.refreshToken });
    expectErrorShape(after, 401);
    const again = expectStatus(
      await api.post("/auth/login", { email: s.email, password: s.password }),
      200,
    );
    s.accessToken = again.body.accessToken;
    s.refreshToken = again.body.refreshToken;
  });

  it("when MFA is enabled with an independently computed RFC 6238 code, then login needs a valid one-time code", async () => {
    const { api } = env();
    const setup = expectStatus(await api.post("/auth/mfa/setup", undefined, auth()), 200);
    const secret: string = setup.body.secret;
    expect(secret).toMatch(/^[A-Z2-7]+=*$/);
    expect(Buffer.byteLength(secret.replace(/=+$/, "")) * 5).toBeGreaterThanOrEqual(160);
    const otpauth = new URL(setup.body.otpauthUrl);
    expect(otpauth.protocol).toBe("otpauth:");
    expect(otpauth.searchParams.get("secret")).toBe(secret);
    s.mfaSecret = secret;

    expectErrorShape(await api.post("/auth/mfa/enable", { otp: "000000" }, auth()), 422);
    expectStatus(await api.post("/auth/mfa/enable", { otp: totp(secret) }, auth()), 204, "enable");

    const without = await api.post("/auth/login", { email: s.email, password: s.password });
    expectErrorShape(without, 401, "MFA_REQUIRED");
    expect(without.body).not.toHaveProperty("accessToken");
    const wrong = await api.post("/auth/login", {
      email: s.email,
      password: s.password,
      otp: totp(secret, 5),
    });
    expectErrorShape(wrong, 401, "MFA_REQUIRED");
    // The enabling code is spent; the next time step's code is within the allowed drift.
    const withOtp = expectStatus(
      await api.post("/auth/login", { email: s.email, password: s.password, otp: totp(secret, 1) }),
      200,
      "login with otp",
    );
    s.accessToken = withOtp.body.accessToken;
    s.refreshToken = withOtp.body.refreshToken;
    const me = expectStatus(await api.get("/me", auth()), 200);
    expect(me.body.mfaEnabled).toBe(true);
    expect(JSON.stringify(me.body)).not.toContain(secret);
  });

  it("when the learner browses the catalogue, then the seeded A1 course and its lessons show, quizzes without answer keys", async () => {
    const { api } = env();
    const list = expectStatus(await api.get("/courses?level=A1"), 200);
    expectListShape(list.body);
    expect(list.body.rows.every((c: Json) => c.level === "A1")).toBe(true);
    const course = list.body.rows.find((c: Json) => c.title === A1.title);
    expect(course).toBeDefined();
    s.courseId = course.id;

    // Full-text search over title and description finds it too.
    const search = expectStatus(await api.get("/courses?q=introduce%20yourself"), 200);
    expect(search.body.rows.map((c: Json) => c.id)).toContain(s.courseId);
    expect(search.body.rows.map((c: Json) => c.title)).not.toContain("Travel");

    const detail = expectStatus(await api.get(`/courses/${s.courseId}`), 200);
    expect(detail.body).toMatchObject({ title: A1.title, level: "A1", status: "published" });
    s.lessons = detail.body.lessons;
    expect(s.lessons.map(l => [l.title, l.kind, l.order])).toEqual(
      A1.lessons.map(l => [l.title, l.kind, l.order]),
    );

    const quiz = s.lessons.find(l => l.kind === "quiz")!;
    const view = expectStatus(await api.get(`/lessons/${quiz.id}`, auth()), 200);
    const seeded = A1.lessons.find(l => l.kind === "quiz")!.questions!;
    expect(view.body.questions).toHaveLength(seeded.length);
    for (const q of view.body.questions) {
      expect(q).not.toHaveProperty("answer");
      expect(q).not.toHaveProperty("explanation");
      expect(typeof q.id).toBe("string");
    }
  });

  it("when the learner enrolls and passes the quiz with the seed's answers, then XP, streak, achievements, rank and activity follow", async () => {
    const { api } = env();
    const enrolled = expectStatus(
      await api.post(`/courses/${s.courseId}/enroll`, undefined, auth()),
      201,
    );
    expect(enrolled.body.courseId).toBe(s.courseId);
    expectStatus(await api.post(`/courses/${s.courseId}/enroll`, undefined, auth()), 200);
    const mine = expectStatus(await api.get("/me/courses", auth()), 200);
    expect(mine.body).toHaveLength(1);
    expect(mine.body[0]).toMatchObject({ completedLessons: 0, totalLessons: 4, completion: 0 });
    expect(mine.body[0].course.id).toBe(s.courseId);

    const quiz = s.lessons.find(l => l.kind === "quiz")!;
    const view = expectStatus(await api.get(`/lessons/${quiz.id}`, auth()), 200);
    const key = seedAnswers(quiz.title);
    const answers = view.body.questions.map((q: Json) => ({
      questionId: q.id,
      value: key.get(q.prompt),
    }));
    expect(answers.every((a: Json) => a.value !== undefined)).toBe(true);
    const idem = { headers: { "idempotency-key": crypto.randomUUID() }, token: s.accessToken };
    const attempt = expectStatus(
      await api.post(`/lessons/${quiz.id}/attempts`, { answers }, idem),
      201,
      "attempt",
    );
    const maxScore = answers.length * 10;
    expect(attempt.body).toMatchObject({ score: maxScore, maxScore, passed: true });
    // docs/learning-rules.md: points + 20 for completing + 20 for a perfect first pass.
    expect(attempt.body.xpEarned).toBe(maxScore + 40);
    expect(attempt.body.results).toHaveLength(answers.length);
    expect(attempt.body.results.every((r: Json) => r.correct === true)).toBe(true);
    s.xp = attempt.body.xpEarned;

    // A retried submission (same Idempotency-Key) answers the same and awards nothing again.
    const retry = expectStatus(
      await api.post(`/lessons/${quiz.id}/attempts`, { answers }, idem),
      201,
    );
    expect(retry.body).toEqual(attempt.body);

    const progress = expectStatus(await api.get("/me/progress", auth()), 200);
    expect(progress.body).toMatchObject({
      xp: s.xp,
      completedLessons: 1,
      todayXp: s.xp,
      streak: { current: 1, longest: 1 },
    });
    expect(progress.body.dailyGoalXp).toBeGreaterThan(0);

    const achievements = expectStatus(await api.get("/me/achievements", auth()), 200);
    const codes = achievements.body.map((a: Json) => a.code).sort();
    expect(codes).toEqual(["first_lesson", "perfect_quiz", "xp_100"]);
    for (const a of achievements.body) expect(Date.parse(a.unlockedAt)).not.toBeNaN();

    for (const period of ["weekly", "all"]) {
      const board = expectStatus(
        await api.get(`/leaderboard?period=${period}&limit=10`, auth()),
        200,
      );
      expect(board.body.period).toBe(period);
      expect(board.body.me).toMatchObject({ xp: s.xp });
      expect(board.body.me.rank).toBeGreaterThanOrEqual(1);
      const row = board.body.top.find((r: Json) => r.userId === s.userId);
      expect(row).toMatchObject({ rank: board.body.me.rank, name: s.name, xp: s.xp });
    }

    const activity = expectStatus(await api.get("/me/activity?days=7", auth()), 200);
    expect(activity.body).toHaveLength(7);
    const today = new Date().toISOString().slice(0, 10); // the learner's zone is UTC
    expect(activity.body.at(-1)).toEqual({ date: today, xp: s.xp, lessons: 1 });
  });

  it("when the quiz is graded, then the seeded skills have mastery, practice draws on the quiz and what next puts reviews first", async () => {
    const { api } = env();
    const seeded = A1.lessons.find(l => l.kind === "quiz")!;
    const expected = [
      ...new Set(
        seeded.questions!.flatMap(q => (q.skills?.length ? q.skills : (seeded.skills ?? []))),
      ),
    ].sort();
    const skills = expectStatus(await api.get("/me/skills", auth()), 200);
    expect(skills.body.map((r: Json) => r.skill).sort()).toEqual(expected);
    for (const row of skills.body) expect(row.mastery).toBeGreaterThan(0.5);

    const practice = expectStatus(await api.post("/me/practice", {}, auth()), 201);
    expect(practice.body.questions).toHaveLength(seeded.questions!.length);
    for (const q of practice.body.questions) expect(q).not.toHaveProperty("answer");

    const next = expectStatus(await api.get("/me/next", auth()), 200);
    const deck = A1.lessons.find(l => l.kind === "flashcards")!;
    expect(next.body[0]).toMatchObject({ kind: "review", count: deck.cards!.length });
    expect(next.body[1]).toMatchObject({ kind: "practice", skill: skills.body[0].skill });
    const reading = s.lessons.find(l => l.kind === "lesson")!;
    expect(next.body[2]).toMatchObject({
      kind: "lesson",
      courseId: s.courseId,
      lessonId: reading.id,
    });
  });

  it("when the learner reviews a due flashcard as good, then FSRS schedules it later and it leaves the due list", async () => {
    const { api } = env();
    const due = expectStatus(await api.get("/me/reviews/due", auth()), 200);
    const deck = A1.lessons.find(l => l.kind === "flashcards")!;
    expect(due.body).toHaveLength(deck.cards!.length);
    expect(due.body.map((c: Json) => c.front).sort()).toEqual(deck.cards!.map(c => c.front).sort());
    const card = due.body[0];
    expect(Date.parse(card.due)).toBeLessThanOrEqual(Date.now());
    const reviewed = expectStatus(
      await api.post(
        "/me/reviews",
        { lessonId: card.lessonId, cardId: card.cardId, rating: "good" },
        auth(),
      ),
      200,
    );
    expect(reviewed.body).toMatchObject({ lessonId: card.lessonId, cardId: card.cardId });
    expect(Date.parse(reviewed.body.due)).toBeGreaterThan(Date.now());
    expect(reviewed.body.stability).toBeGreaterThan(0);
    expect(reviewed.body.difficulty).toBeGreaterThan(0);
    const after = expectStatus(await api.get("/me/reviews/due", auth()), 200);
    expect(after.body.map((c: Json) => c.cardId)).not.toContain(card.cardId);
    expect(after.body).toHaveLength(deck.cards!.length - 1);
    const progress = expectStatus(await api.get("/me/progress", auth()), 200);
    expect(progress.body.xp).toBe(s.xp + 2); // a due card reviewed: 2 XP
    s.xp = progress.body.xp;
  });

  it("when lessons are completed, then in-app notifications arrive, newest first, and can be marked read", async () => {
    const { api } = env();
    const page = await waitFor("the lesson-completed notification", async () => {
      const res = expectStatus(await api.get("/me/notifications", auth()), 200);
      return res.body.rows.some((n: Json) => n.kind === "lesson_completed") ? res.body : undefined;
    });
    expectListShape(page);
    const quiz = s.lessons.find(l => l.kind === "quiz")!;
    const done = page.rows.find((n: Json) => n.kind === "lesson_completed");
    expect(done.data.lessonId).toBe(quiz.id);
    expect(done.read).toBe(false);
    const times = page.rows.map((n: Json) => Date.parse(n.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(page.unread).toBe(page.rows.filter((n: Json) => !n.read).length);
    expectStatus(await api.post(`/me/notifications/${done.id}/read`, undefined, auth()), 204);
    // More notifications (achievements) may land meanwhile: compare within one answer.
    const after = expectStatus(await api.get("/me/notifications", auth()), 200);
    expect(after.body.rows.find((n: Json) => n.id === done.id)).toMatchObject({ read: true });
    expect(after.body.unread).toBe(after.body.rows.filter((n: Json) => !n.read).length);
  });

  it("when the learner opens the dashboard, then every part is there and nothing is degraded", async () => {
    const { api } = env();
    // A cold node may miss the 300 ms part deadline once; a warm system must not.
    const board = await waitFor(
      "a dashboard without degraded parts",
      async () => {
        const res = expectStatus(await api.get("/me/dashboard", auth()), 200);
        return res.body.degraded.length === 0 ? res.body : undefined;
      },
      10_000,
      300,
    );
    expect(board.degraded).toEqual([]);
    expect(board.user).toMatchObject({ id: s.userId, email: s.email.toLowerCase() });
    expect(board.progress).toMatchObject({ xp: s.xp });
    expect(board.courses.map((c: Json) => c.course.id)).toEqual([s.courseId]);
    expect(board.dueReviews.length).toBeGreaterThan(0);
    expect(board.leaderboard.rank).toBeGreaterThanOrEqual(1);
    expect(Array.isArray(board.leaderboard.top)).toBe(true);
    expect(typeof board.notifications.unread).toBe("number");
  });

  it("when the learner completes every lesson of the course, then it is complete and exactly one course-completed and one mail per achievement arrive", async () => {
    const { api, mailbox } = env();
    for (const lesson of s.lessons.filter(l => l.kind !== "quiz")) {
      const done = expectStatus(
        await api.post(`/lessons/${lesson.id}/complete`, undefined, auth()),
        201,
        lesson.title,
      );
      expect(done.body.xpEarned).toBe(20);
    }
    const mine = expectStatus(await api.get("/me/courses", auth()), 200);
    expect(mine.body[0]).toMatchObject({ completedLessons: 4, totalLessons: 4, completion: 1 });
    const achievements = expectStatus(await api.get("/me/achievements", auth()), 200);
    expect(achievements.body.map((a: Json) => a.code)).toContain("course_completed");

    const [completed] = await mailbox.waitFor(s.email, new RegExp(`You completed ${A1.title}`));
    expect(completed.html).toContain(A1.title);
    expect(completed.text).toContain(A1.title);
    // Not transactional: one-click unsubscribe (RFC 8058).
    expect(completed.header("list-unsubscribe")).toMatch(
      /^<https?:\/\/.+\/notifications\/unsubscribe\/.+>$/,
    );
    expect(completed.header("list-unsubscribe-post")).toBe("List-Unsubscribe=One-Click");
    const names = achievements.body.map((a: Json) => a.name);
    for (const name of names) {
      await mailbox.waitFor(s.email, new RegExp(`^Achievement unlocked: ${escapeRegExp(name)}$`));
    }
    // Nothing twice: every mail to this learner has its own subject.
    const mine2 = (await mailbox.all()).filter(m =>
      m.to.some(a => a.toLowerCase() === s.email.toLowerCase()),
    );
    const subjects = mine2.map(m => m.subject);
    expect(new Set(subjects).size).toBe(subjects.length);
    expect(subjects.filter(x => /^Achievement unlocked/.test(x))).toHaveLength(names.length);
  });

  it("when the course is complete, then its one certificate verifies publicly, prints as a PDF, and the mail links to it", async () => {
    const { api, mailbox, publicUrl } = env();
    const held = expectStatus(await api.get("/me/certificates", auth()), 200);
    expect(held.body).toEqual([expect.objectContaining({ courseId: s.courseId, level: "A1" })]);
    const id = held.body[0].id as string;
    const verified = expectStatus(await api.get(`/certificates/${id}`), 200);
    expect(verified.body).toMatchObject({ courseTitle: A1.title, status: "valid" });
    const pdf = expectStatus(await api.get(`/certificates/${id}/pdf`), 200);
    expect(pdf.headers.get("content-type")).toMatch(/^application\/pdf/);
    const credential = expectStatus(await api.get(`/certificates/${id}/credential`), 200);
    expect(credential.text.split(".")).toHaveLength(3);
    const [completed] = await mailbox.waitFor(s.email, new RegExp(`You completed ${A1.title}`));
    // The link is tracked: the verification page is the target inside its signed token.
    const target = `${publicUrl}/certificates/${id}`;
    const targets = [...completed.html.matchAll(/notifications\/click\/([A-Za-z0-9_-]+)\./g)].map(
      m => JSON.parse(Buffer.from(m[1], "base64url").toString("utf8")) as string[],
    );
    expect(targets.some(wire => wire.includes(target))).toBe(true);
  });

  it("when the learner takes the placement test as an A2 learner, then a level comes within 20 questions and GET /me shows it", async () => {
    const { api } = env();
    expect(expectStatus(await api.get("/me", auth()), 200).body.level).toBeNull();
    const started = expectStatus(await api.post("/placement", {}, auth()), 201);
    let question = started.body.question as { id: string };
    let result: { level: string; confidence: number } | undefined;
    for (let answered = 0; answered < 20 && !result; answered += 1) {
      const step = expectStatus(
        await api.post(
          `/placement/${started.body.id}/answers`,
          { questionId: question.id, value: answerAs("A2", question) },
          auth(),
        ),
        200,
      );
      result = step.body.result;
      question = step.body.question;
    }
    expect(["A1", "A2", "B1"]).toContain(result?.level);
    const me = await waitFor("the placed level on the profile", async () => {
      const profile = expectStatus(await api.get("/me", auth()), 200);
      return profile.body.level ? profile.body : undefined;
    });
    expect(me.level).toBe(result?.level);
  });

  return s;
}
