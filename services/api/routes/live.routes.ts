import type { RouteSpec } from "../route-table";

/**
 * The live rows of the Notifications table (shared/design/api.md). `GET /live` itself is the
 * WebSocket upgrade the gateway's HTTP server answers (services/api/live.ts), not an action.
 */
export const liveRoutes: RouteSpec[] = [
  {
    method: "POST",
    path: "/live/ticket",
    action: "api.liveTicket",
    status: 201,
    summary:
      "A single-use ticket (30 s) for the live WebSocket: GET /api/v1/live?ticket=…[&since=<message id>]",
    tag: "Notifications",
  },
];
