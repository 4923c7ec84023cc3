import type { RouteSpec } from "../route-table";

/** The Web Push rows of the Notifications table (shared/design/api.md; actions in services/notify.service.ts). */
export const pushRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/push/vapid-public-key",
    action: "notify.vapidPublicKey",
    summary: "The VAPID public key a browser subscribes with (applicationServerKey)",
    tag: "Notifications",
  },
  {
    method: "POST",
    path: "/me/push-subscriptions",
    action: "notify.addPushSubscription",
    status: 201,
    summary:
      "Add this device's PushSubscription; a subscription the push service answers 404/410 for is removed",
    tag: "Notifications",
  },
  {
    method: "DELETE",
    path: "/me/push-subscriptions/:id",
    action: "notify.removePushSubscription",
    status: 204,
    summary: "Remove one of my push subscriptions",
    tag: "Notifications",
  },
];
