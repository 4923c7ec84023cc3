import type { RouteSpec } from "../route-table";

/** The in-app inbox rows of the Notifications table added by issue 17 (actions in services/notify.service.ts). */
export const inboxRoutes: RouteSpec[] = [
  {
    method: "POST",
    path: "/me/notifications/read-all",
    action: "notify.markAllRead",
    status: 204,
    summary: "Mark all my in-app notifications read",
    tag: "Notifications",
  },
];
