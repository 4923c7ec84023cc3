import type { RouteSpec } from "../route-table";

/** The xAPI row of shared/design/api.md (Learning, continued), answered by progress. */
export const xapiRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/me/xapi",
    action: "progress.myXapi",
    summary:
      "My learning as xAPI 1.0.3 statements (answered, passed, failed, completed, experienced), oldest first after ?since=, at most 500 an answer",
    tag: "Learning",
  },
];
