import type { RouteSpec } from "../route-table";

/** Skills, practice and "what next" ("Learning, continued" of shared/design/api.md), answered by progress. */
export const skillsRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/me/skills",
    action: "progress.mySkills",
    summary:
      "My mastery (0..1) of every skill I have answered on, weakest first; each graded answer moves it (docs/learning-rules.md)",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/me/next",
    action: "progress.whatNext",
    summary:
      "Up to 10 suggestions, each with a reason to show: due reviews, my weakest skill, the next open lesson of each enrolled course, a course at my level",
    tag: "Learning",
  },
  {
    method: "POST",
    path: "/me/practice",
    action: "progress.startPractice",
    status: 201,
    summary:
      "A practice quiz from quizzes I have completed, weakest skills first (or one `skill`); grade it with POST /lessons/{its id}/attempts, once",
    tag: "Learning",
  },
];
