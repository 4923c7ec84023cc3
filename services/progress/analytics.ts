import type { Context } from "moleculer";
import type { Transaction } from "sequelize";
import type {
  AccountCreated,
  CourseAnalytics,
  MailOutcomes,
  PlatformAnalytics,
  RebuiltAnalytics,
} from "../../models/analytics.model";
import type { AuthUser } from "../../models/auth.model";
import type { PublishedCourse } from "../../models/course.model";
import { courseNotFound } from "./errors";
import * as store from "./store";

/** The request a call to another service is made for (its id travels along). */
type Caller = Pick<Context, "requestID">;

/**
 * The numbers of a course for its author (and admins) and of the platform for admins, read
 * from the analytics read model (store/read-model.ts) that the durable events feed
 * (analytics-feed.ts); rebuilt from the tables by an operator when it is lost.
 */

export interface AnalyticsDeps {
  db: store.Db;
  now: () => Date;
  /** Content's published course (owner and lesson outline), null when there is none. */
  publishedCourse: (id: string, caller?: Caller) => Promise<PublishedCourse | null>;
  /** The rebuild's own transaction: one snapshot of the tables (REPEATABLE READ). */
  withSnapshot: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  /** Users' accounts created since `since`, a page after `after` (by id). */
  accounts: (page: CreatedSince, caller?: Caller) => Promise<AccountCreated[]>;
  /** Notify's mail outcomes of the mails created since `since`, a page after `after` (by mail id). */
  mailOutcomes: (page: CreatedSince, caller?: Caller) => Promise<MailOutcomes[]>;
}

interface CreatedSince {
  since: Date;
  after?: string;
  limit: number;
}

const DAY_MS = 86_400_000;
/** The longest window GET /admin/analytics answers for (`days` ≤ 366). */
const LONGEST_WINDOW_DAYS = 366;
const PAGE = 5000;
const share = (part: number, whole: number) => (whole > 0 ? round(part / whole) : 0);
const round = (value: number) => Math.round(value * 1000) / 1000;
const isoDay = (at: Date) => at.toISOString().slice(0, 10);

export async function courseAnalytics(
  deps: AnalyticsDeps,
  input: { courseId: string },
  actor: AuthUser,
  caller?: Caller,
): Promise<CourseAnalytics> {
  const { courseId } = input;
  const course = await deps.publishedCourse(courseId, caller);
  // Someone else's course answers as no course at all (api.md: ownership).
  if (!course || (course.ownerId !== actor.id && !actor.roles.includes("admin")))
    throw courseNotFound(courseId);
  const lessonIds = course.lessons.map(lesson => lesson.id);
  const since = new Date(deps.now().getTime() - 7 * DAY_MS);
  const figures = await store.courseFigures(deps.db, courseId, lessonIds, since);
  const counted = new Map(figures.lessons.map(row => [row.lesson_id, row]));
  const order = new Map(lessonIds.map((id, i) => [id, i]));
  return {
    enrolments: figures.enrolments,
    activeLearners7d: figures.active,
    completionRate: share(figures.completed, figures.enrolments),
    lessons: lessonIds.map(lessonId => {
      const row = counted.get(lessonId);
      const attempts = row?.attempts ?? 0;
      return {
        lessonId,
        started: row?.started ?? 0,
        completed: row?.completed ?? 0,
        passRate: attempts > 0 ? share(row?.passed ?? 0, attempts) : null,
      };
    }),
    questions: [...figures.questions]
      .sort((a, b) => (order.get(a.lesson_id) ?? 0) - (order.get(b.lesson_id) ?? 0))
      .map(row => ({
        lessonId: row.lesson_id,
        questionId: row.question_id,
        answers: row.answers,
        correctRate: share(row.correct, row.answers),
        discrimination:
          row.p_upper === null || row.p_lower === null ? null : round(row.p_upper - row.p_lower),
      })),
  };
}

/** The UTC days of the last `days` days, oldest first, today last. */
function windowOf(now: Date, days: number): string[] {
  return Array.from({ length: days }, (_, i) =>
    isoDay(new Date(now.getTime() - (days - 1 - i) * DAY_MS)),
  );
}

/** The admins' figures of the last `days` UTC days. */
export async function platformAnalytics(
  deps: AnalyticsDeps,
  input: { days: number },
): Promise<PlatformAnalytics> {
  const window = windowOf(deps.now(), input.days);
  const today = window[window.length - 1];
  const figures = await store.platformFigures(deps.db, today, window[0]);
  const perDay = new Map(figures.registrations.map(row => [row.date, row.count]));
  const rate = (kept: string, due: string) =>
    Number(due) > 0 ? share(Number(kept), Number(due)) : null;
  return {
    dau: figures.dau,
    wau: figures.wau,
    mau: figures.mau,
    registrations: window.map(date => ({ date, count: perDay.get(date) ?? 0 })),
    retention: figures.cohorts.map(row => ({
      cohortWeek: row.cohort_week,
      size: Number(row.size),
      d1: rate(row.d1_kept, row.d1_due),
      d7: rate(row.d7_kept, row.d7_due),
      d30: rate(row.d30_kept, row.d30_due),
    })),
    mail: figures.mail,
  };
}

/** Today's active learners, for the gauges. */
export function activeLearners(
  deps: Pick<AnalyticsDeps, "db" | "now">,
): Promise<{ dau: number; wau: number; mau: number }> {
  return store.activeLearnerCounts(deps.db, isoDay(deps.now()));
}

/** Hands every page of a keyset-paged listing to `apply`, `key` naming a row's cursor; answers the rows. */
async function eachPage<T>(
  page: (after: string | undefined) => Promise<T[]>,
  key: (row: T) => string,
  apply: (rows: T[]) => Promise<void>,
): Promise<number> {
  let total = 0;
  let after: string | undefined;
  for (;;) {
    const rows = await page(after);
    if (rows.length > 0) await apply(rows);
    total += rows.length;
    if (rows.length < PAGE) return total;
    after = key(rows[rows.length - 1]);
  }
}

/**
 * Operators' rebuild (REPL: `call progress.rebuildAnalytics`): the read model wiped and
 * recomputed from progress's tables in one transaction that locks it (events arriving
 * meanwhile wait, then change only what the tables did not yet hold); then users' accounts
 * and notify's mail of the longest window, asked once that has committed (no transaction is
 * held across a call: embedded PostgreSQL serialises transactions), added fact by fact so that
 * what a consumer added in between is not counted twice.
 */
export async function rebuildAnalytics(
  deps: AnalyticsDeps,
  caller?: Caller,
): Promise<RebuiltAnalytics> {
  const since = new Date(deps.now().getTime() - LONGEST_WINDOW_DAYS * DAY_MS);
  const attempts = await deps.withSnapshot(async t => {
    await store.lockReadModel(deps.db, t);
    await store.wipeReadModel(deps.db, t);
    return store.rebuildFromTables(deps.db, t);
  });
  const registrations = await eachPage(
    after => deps.accounts({ since, after, limit: PAGE }, caller),
    row => row.userId,
    rows => deps.withSnapshot(t => store.restoreRegistrations(deps.db, rows, t)),
  );
  let mailOutcomes = 0;
  await eachPage(
    after => deps.mailOutcomes({ since, after, limit: PAGE }, caller),
    row => row.emailId,
    async rows => {
      mailOutcomes += rows.reduce((sum, m) => sum + m.outcomes.length, 0);
      await deps.withSnapshot(t => store.restoreMailOutcomes(deps.db, rows, t));
    },
  );
  return { attempts, registrations, mailOutcomes };
}
