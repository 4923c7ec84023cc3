import type { RouteSpec } from "../route-table";

/** The "Learning" table of shared/design/api.md, answered by the progress service. */
export const learningRoutes: RouteSpec[] = [
  {
    method: "POST",
    path: "/courses/:id/enroll",
    action: "progress.enroll",
    status: 201,
    summary: "Enroll in a published course (200 when already enrolled)",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/me/courses",
    action: "progress.myCourses",
    summary: "My enrolled courses with completion (completed / lessons of the published version)",
    tag: "Learning",
  },
  {
    method: "POST",
    path: "/lessons/:id/attempts",
    action: "progress.submitAttempt",
    status: 201,
    summary:
      "Submit answers: graded on the server; passing (≥ 80 %) completes the lesson; honours Idempotency-Key",
    tag: "Learning",
  },
  {
    method: "POST",
    path: "/lessons/:id/complete",
    action: "progress.completeLesson",
    status: 201,
    summary: "Mark a reading, listening or flashcards lesson complete; honours Idempotency-Key",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/me/progress",
    action: "progress.myProgress",
    summary:
      "My XP, streak (in my time zone), completed lessons and today's XP against my daily goal",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/me/achievements",
    action: "progress.myAchievements",
    summary: "Achievements I have unlocked",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/leaderboard",
    action: "progress.leaderboard",
    summary: "Weekly (ISO week, UTC) or all-time XP leaderboard with my rank",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/me/reviews/due",
    action: "progress.dueReviews",
    summary: "My flashcards due now (FSRS schedule)",
    tag: "Learning",
  },
  {
    method: "POST",
    path: "/me/reviews",
    action: "progress.review",
    summary:
      "Review a flashcard of a lesson ({lessonId, cardId}): again, hard, good or easy; returns its next due time",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/me/activity",
    action: "progress.myActivity",
    summary: "XP and lessons per day in my time zone (streak calendar)",
    tag: "Learning",
  },
];
