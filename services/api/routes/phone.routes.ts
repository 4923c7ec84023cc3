import type { RouteSpec } from "../route-table";

/** The SMS rows of the Notifications table (shared/design/api.md; actions in services/notify.service.ts). */
export const phoneRoutes: RouteSpec[] = [
  {
    method: "POST",
    path: "/me/phone",
    action: "notify.setPhone",
    status: 202,
    summary:
      "Set my phone number (E.164): an SMS brings a 6-digit code; SMS go only to verified numbers",
    tag: "Notifications",
  },
  {
    method: "POST",
    path: "/me/phone/verify",
    action: "notify.verifyPhone",
    status: 204,
    summary: "Verify my phone number with the code it received (10 min, 5 guesses)",
    tag: "Notifications",
  },
];
