import type { RouteSpec } from "../route-table";

/** The placement test (api.md, "Learning, continued"), answered by the progress service. */
export const placementRoutes: RouteSpec[] = [
  {
    method: "POST",
    path: "/placement",
    action: "progress.startPlacement",
    status: 201,
    summary:
      "Start an adaptive placement test (CEFR A1–C2): its id and first question; honours Idempotency-Key",
    tag: "Learning",
  },
  {
    method: "POST",
    path: "/placement/:id/answers",
    action: "progress.answerPlacement",
    summary:
      "Answer the question asked ({questionId, value}): the next question, or after at most 20 the result {level, confidence}, stored on the profile",
    tag: "Learning",
  },
];
