import type { RouteSpec } from "../route-table";

/** The Notifications table of shared/design/api.md (actions in services/notify.service.ts). */
export const notificationsRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/me/notifications",
    action: "notify.notifications",
    summary: "My in-app notifications, newest first, with the unread count",
    tag: "Notifications",
  },
  {
    method: "POST",
    path: "/me/notifications/:id/read",
    action: "notify.markRead",
    status: 204,
    summary: "Mark one of my notifications read",
    tag: "Notifications",
  },
  {
    method: "GET",
    path: "/me/notification-preferences",
    action: "notify.getPreferences",
    summary: "My email preferences per category",
    tag: "Notifications",
  },
  {
    method: "PUT",
    path: "/me/notification-preferences",
    action: "notify.updatePreferences",
    summary: "Change my email preferences",
    tag: "Notifications",
  },
  {
    method: "GET",
    path: "/notifications/open/:token.gif",
    action: "notify.open",
    summary: "Open-tracking pixel (1×1 GIF); records the open of that email",
    tag: "Notifications",
    kind: "binary",
  },
  {
    method: "GET",
    path: "/notifications/click/:token",
    action: "notify.click",
    status: 302,
    summary: "Click-through link of an email: records the click and redirects to the signed target",
    tag: "Notifications",
  },
  {
    method: "GET",
    path: "/notifications/unsubscribe/:token",
    action: "notify.unsubscribePage",
    summary:
      "The mail's unsubscribe link: an HTML page naming the category with a confirm button (changes nothing by itself)",
    tag: "Notifications",
    kind: "html",
  },
  {
    method: "POST",
    path: "/notifications/unsubscribe/:token",
    action: "notify.unsubscribe",
    summary:
      "Unsubscribe that email's recipient from its category: RFC 8058 one-click (List-Unsubscribe-Post) or the page's button (no login: the signed token is the proof)",
    tag: "Notifications",
    kind: "form",
    requestHeaders: ["accept"],
  },
  {
    method: "GET",
    path: "/emails",
    action: "notify.emails",
    summary: "Admin: every email with its delivery status, filtered by ?to=&template=&status=",
    tag: "Notifications",
  },
];
