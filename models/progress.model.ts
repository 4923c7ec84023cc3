import type { UserSummary } from "./user.model";

/**
 * Shapes of the progress service: what it reads from other services (the internal
 * contracts of content and users) and what it answers on the Learning routes.
 */

export type QuestionType = "single" | "multiple" | "text" | "order";
export type LessonKind = "lesson" | "quiz" | "flashcards";
export type AnswerValue = string | string[];

/** A question with its answer key, as content.lessonForGrading gives it (never sent to learners). */
export interface GradableQuestion {
  id: string;
  type: QuestionType;
  prompt: string;
  options?: string[];
  answer: AnswerValue;
  explanation?: string;
}

export interface FlashcardSource {
  id: string;
  front: string;
  back: string;
  example?: string;
  audioUrl?: string;
}

/** content.lessonForGrading({ lessonId }): the published version of a lesson. */
export interface LessonForGrading {
  id: string;
  courseId: string;
  courseVersion: number;
  kind: LessonKind;
  title: string;
  questions: GradableQuestion[];
  cards: FlashcardSource[];
}

/** content.courseOutline({ courseId }): the published version of a course. */
export interface CourseOutline {
  id: string;
  title: string;
  level: string;
  version: number;
  lessons: Array<{ id: string; title: string; order: number; kind: LessonKind }>;
}

/** content.coursesByIds({ ids }). */
export interface CourseSummary {
  id: string;
  title: string;
  level: string;
  topics: string[];
  version: number;
  lessonCount: number;
}

/** users.profiles({ ids }): the part progress reads. */
export type UserProfile = Omit<UserSummary, "nativeLanguage">;

export interface StreakView {
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

export type LeaderboardPeriod = "weekly" | "all";

export interface LeaderboardView {
  period: LeaderboardPeriod;
  top: Array<{ rank: number; userId: string; name: string; xp: number }>;
  me: { rank: number | null; xp: number };
}

export const DEFAULT_DAILY_GOAL_XP = 20;
export const DEFAULT_TIMEZONE = "UTC";
