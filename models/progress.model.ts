import type { ParamsOf } from "../lib/params-of";
import type { UnlockedAchievement } from "./achievement.model";
import type { AnswerKey, LessonForGrading } from "./lesson.model";
import type { EnrolledCourse } from "./enrollment.model";
import type { DueCard } from "./review.model";

/**
 * Shapes of the progress service: what it answers on the Learning routes, and the parts of
 * other services' answers it reads. Those answers are defined once, by the service that gives
 * them (content.lessonForGrading: models/lesson.model.ts; content.courseOutline and
 * content.coursesByIds: models/course.model.ts; users.profiles: models/user.model.ts).
 */

/** A learner's answer: a string, a list (multiple, order, cloze) or pairs (match). */
export type AnswerValue = AnswerKey;

type QuestionForGrading = LessonForGrading["questions"][number];

/**
 * What grading reads of a question (services/progress/grading.ts): its key always, its options
 * and explanation when it has them.
 */
export type GradableQuestion = Pick<QuestionForGrading, "id" | "type" | "answer"> &
  Partial<Pick<QuestionForGrading, "prompt" | "options" | "explanation">>;

/** A flashcard of a published lesson, as content.lessonForGrading gives it. */
export type FlashcardSource = LessonForGrading["cards"][number];

interface StreakView {
  current: number;
  longest: number;
  /** The learner's local date (YYYY-MM-DD) of the last day that counted. */
  lastActiveDate: string | null;
  freezes: number;
}

/** GET /me/progress */
export interface ProgressView {
  xp: number;
  streak: StreakView;
  completedLessons: number;
  todayXp: number;
  dailyGoalXp: number;
}

/** GET /me/activity: one row a day in the learner's time zone. */
export interface ActivityDay {
  date: string;
  xp: number;
  lessons: number;
}

const LEADERBOARD_PERIODS = ["weekly", "all"] as const;
export type LeaderboardPeriod = (typeof LEADERBOARD_PERIODS)[number];

/** GET /leaderboard's query: the board, whose, and how many of its top. */
export const leaderboardParams = {
  $$strict: true,
  period: { type: "enum", values: [...LEADERBOARD_PERIODS], optional: true, default: "weekly" },
  /** `following`: the caller and the people they follow (users' follow graph). */
  scope: {
    type: "enum",
    values: ["everyone", "following"],
    optional: true,
    default: "everyone",
  },
  limit: {
    type: "number",
    integer: true,
    min: 1,
    max: 100,
    convert: true,
    optional: true,
    default: 10,
  },
} as const;

export type LeaderboardInput = ParamsOf<typeof leaderboardParams>;

export interface LeaderboardView {
  period: LeaderboardPeriod;
  top: Array<{ rank: number; userId: string; name: string; xp: number }>;
  me: { rank: number | null; xp: number };
}

/** What one learner may see of another (progress.publicStats, users' GET /users/:id/profile). */
export interface LearnerPublicStats {
  xp: number;
  /** The current streak in days. */
  streak: number;
  achievements: UnlockedAchievement[];
}

/**
 * The Moleculer event progress broadcasts to the `api` group after every commit that changes
 * a learner's data — one that emits their events (an attempt, a review, an enrolment), and
 * the consumer's updates of their home summary (its events, notify's inbox count, a profile
 * change) — before that change's answer leaves: every gateway drops its copies of the
 * learner's completions (the locks and ticks of their GET /courses/:id) and of their home.
 */
export const LEARNER_CHANGED_EVENT = "cache.clean.learner";

export interface LearnerChanged {
  userId: string;
}

/**
 * Broadcast to the `api` group after a commit that marks many learners' home summaries for a
 * rebuild (content changed a course they are enrolled in): every gateway drops every home it holds.
 */
export const HOMES_CHANGED_EVENT = "cache.clean.homes";

/**
 * The dashboard's board: this week's, its top ten, everyone on it. progress.home reads it, and
 * so does the gateway that answers a held home, so both show the same board.
 */
export const HOME_BOARD = { period: "weekly", limit: 10, scope: "everyone" } as const;

/**
 * progress.home (internal): the parts of GET /me/dashboard progress answers, from the
 * learner's home summary. A part it could not answer now is null (the dashboard degrades it).
 */
export interface LearnerHome {
  progress: ProgressView;
  courses: EnrolledCourse[];
  dueReviews: DueCard[];
  leaderboard: { rank: number | null; top: LeaderboardView["top"] } | null;
  notifications: { unread: number } | null;
}

/**
 * progress.home's answer: the parts, and the instant by which time alone may change them (the
 * next review card falling due that the due list does not show yet, the end of the learner's
 * local day). A copy of the answer is not kept past it.
 */
export interface LearnerHomeAnswer extends LearnerHome {
  freshUntil: string;
}
