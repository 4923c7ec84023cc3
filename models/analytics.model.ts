/** The analytics rows of shared/design/api.md (Learning, continued). */
import type { MailOutcome } from "./events.model";

/** GET /courses/:id/analytics */
export interface CourseAnalytics {
  enrolments: number;
  /** Enrolled learners who attempted, completed or reviewed something of the course in the last 7 days. */
  activeLearners7d: number;
  /** Completed enrolments / enrolments, 0..1 (0 without enrolments). */
  completionRate: number;
  lessons: LessonAnalytics[];
  questions: QuestionAnalytics[];
}

interface LessonAnalytics {
  lessonId: string;
  /** Learners who attempted or completed the lesson. */
  started: number;
  completed: number;
  /** Passed attempts / attempts, 0..1; null for a lesson without attempts (reading, flashcards). */
  passRate: number | null;
}

interface QuestionAnalytics {
  lessonId: string;
  questionId: string;
  /** Answers in every attempt. */
  answers: number;
  /** Fully correct answers / answers, 0..1. */
  correctRate: number;
  /**
   * Upper minus lower 27 % (Kelley): of each learner's first attempt at the lesson, ranked by
   * score, the share answering correctly in the best 27 % less that in the weakest 27 %, -1..1;
   * null below two learners.
   */
  discrimination: number | null;
}

/** GET /admin/analytics?days= */
export interface PlatformAnalytics {
  dau: number;
  wau: number;
  mau: number;
  registrations: DailyCount[];
  retention: RetentionCohort[];
  mail: MailCounts;
}

interface DailyCount {
  date: string;
  count: number;
}

interface RetentionCohort {
  /** ISO week of the learners' first day ("2026-W49"). */
  cohortWeek: string;
  size: number;
  /** Share of the cohort active N days after their first day, 0..1; null until that day has come for any of them. */
  d1: number | null;
  d7: number | null;
  d30: number | null;
}

interface MailCounts {
  sent: number;
  opened: number;
  clicked: number;
  failed: number;
}

/** ?days= of GET /admin/analytics, and of the internal counts other services answer for it. */
export const analyticsDaysParam = {
  type: "number",
  integer: true,
  min: 1,
  max: 366,
  convert: true,
  optional: true,
  default: 30,
} as const;

/** What the operators' rebuild of the read model (progress.rebuildAnalytics) counted. */
export interface RebuiltAnalytics {
  attempts: number;
  registrations: number;
  mailOutcomes: number;
}

/** users.accountsCreated: an account and when it was made, for the rebuild. */
export interface AccountCreated {
  userId: string;
  createdAt: string;
}

/** notify.mailOutcomes: a mail, when it was made, and the outcomes it reached, for the rebuild. */
export interface MailOutcomes {
  emailId: string;
  createdAt: string;
  outcomes: MailOutcome[];
}

/** A keyset page of what was created since `since`, after the id `after`. */
export const createdSinceParams = {
  $$strict: true,
  since: { type: "date", convert: true },
  after: { type: "string", min: 1, max: 64, optional: true },
  limit: { type: "number", integer: true, min: 1, max: 10_000, convert: true },
} as const;
