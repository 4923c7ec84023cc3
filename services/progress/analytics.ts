import type { Context } from "moleculer";
import type {
  CourseAnalytics,
  DailyCount,
  MailCounts,
  PlatformAnalytics,
} from "../../models/analytics.model";
import type { AuthUser } from "../../models/auth.model";
import type { PublishedCourse } from "../../models/course.model";
import { courseNotFound } from "./errors";
import * as store from "./store";

/**
 * The numbers of a course for its author (and admins): enrolments, recent activity, completion,
 * and how each lesson and question fares, counted over progress's tables when asked.
 */

export interface AnalyticsDeps {
  db: store.Db;
  now: () => Date;
  /** Content's published course (owner and lesson outline), null when there is none. */
  publishedCourse: (
    id: string,
    caller?: Pick<Context, "requestID">,
  ) => Promise<PublishedCourse | null>;
}

const DAY_MS = 86_400_000;
const share = (part: number, whole: number) => (whole > 0 ? round(part / whole) : 0);
const round = (value: number) => Math.round(value * 1000) / 1000;

export async function courseAnalytics(
  deps: AnalyticsDeps,
  courseId: string,
  actor: AuthUser,
  caller?: Pick<Context, "requestID">,
): Promise<CourseAnalytics> {
  const course = await deps.publishedCourse(courseId, caller);
  // Someone else's course answers as no course at all (api.md: ownership).
  if (!course || (course.ownerId !== actor.id && !actor.roles.includes("admin")))
    throw courseNotFound(courseId);
  const lessonIds = course.lessons.map(lesson => lesson.id);
  const since = new Date(deps.now().getTime() - 7 * DAY_MS);
  const [enrolled, active, lessons, questions] = await Promise.all([
    store.enrolmentCounts(deps.db, courseId),
    store.activeLearners(deps.db, courseId, since),
    store.lessonCounts(deps.db, lessonIds),
    store.questionCounts(deps.db, lessonIds),
  ]);
  const counted = new Map(lessons.map(row => [row.lesson_id, row]));
  const order = new Map(lessonIds.map((id, i) => [id, i]));
  return {
    enrolments: enrolled.enrolments,
    activeLearners7d: active,
    completionRate: share(enrolled.completed, enrolled.enrolments),
    lessons: lessonIds.map(lessonId => {
      const row = counted.get(lessonId);
      const attempts = Number(row?.attempts ?? 0);
      return {
        lessonId,
        started: Number(row?.started ?? 0),
        completed: Number(row?.completed ?? 0),
        passRate: attempts > 0 ? share(Number(row?.passed ?? 0), attempts) : null,
      };
    }),
    questions: [...questions]
      .sort((a, b) => (order.get(a.lesson_id) ?? 0) - (order.get(b.lesson_id) ?? 0))
      .map(row => ({
        lessonId: row.lesson_id,
        questionId: row.question_id,
        answers: Number(row.answers),
        correctRate: share(Number(row.correct), Number(row.answers)),
        discrimination:
          row.p_upper === null || row.p_lower === null ? null : round(row.p_upper - row.p_lower),
      })),
  };
}

export interface PlatformDeps extends Omit<AnalyticsDeps, "publishedCourse"> {
  /** Users' accounts created per UTC day over the last `days` days. */
  registrations: (days: number, caller?: Pick<Context, "requestID">) => Promise<DailyCount[]>;
  /** Notify's counts of the last `days` days' mail. */
  mailCounts: (days: number, caller?: Pick<Context, "requestID">) => Promise<MailCounts>;
}

const isoDay = (at: Date) => at.toISOString().slice(0, 10);

/** The admins' figures of the last `days` days: progress's own, with users' and notify's asked at once. */
export async function platformAnalytics(
  deps: PlatformDeps,
  days: number,
  caller?: Pick<Context, "requestID">,
): Promise<PlatformAnalytics> {
  const now = deps.now();
  const today = isoDay(now);
  const window = Array.from({ length: days }, (_, i) =>
    isoDay(new Date(now.getTime() - (days - 1 - i) * DAY_MS)),
  );
  const [active, cohorts, registered, mail] = await Promise.all([
    store.activeUsers(deps.db, today),
    store.retentionCohorts(deps.db, window[0], today),
    deps.registrations(days, caller),
    deps.mailCounts(days, caller),
  ]);
  const perDay = new Map(registered.map(row => [row.date, row.count]));
  const rate = (kept: string, due: string) =>
    Number(due) > 0 ? share(Number(kept), Number(due)) : null;
  return {
    ...active,
    registrations: window.map(date => ({ date, count: perDay.get(date) ?? 0 })),
    retention: cohorts.map(row => ({
      cohortWeek: row.cohort_week,
      size: Number(row.size),
      d1: rate(row.d1_kept, row.d1_due),
      d7: rate(row.d7_kept, row.d7_due),
      d30: rate(row.d30_kept, row.d30_due),
    })),
    mail,
  };
}
