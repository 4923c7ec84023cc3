import type { RouteSpec } from "../route-table";

/** The analytics rows of shared/design/api.md (Learning, continued), answered by progress. */
export const analyticsRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/courses/:id/analytics",
    action: "progress.courseAnalytics",
    summary:
      "The owning author's (or an admin's) numbers of a published course: enrolments, learners active in 7 days, completion rate, per lesson and per question (correct rate, discrimination)",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/admin/analytics",
    action: "progress.platformAnalytics",
    summary:
      "Admin: active learners (day, week, month), registrations per day, weekly cohort retention (D1, D7, D30) and mail sent, opened, clicked and failed over ?days= (30)",
    tag: "Learning",
  },
];
