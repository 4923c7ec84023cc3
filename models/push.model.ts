import type { ParamsOf } from "../lib/params-of";

/** Web Push (api.md `POST /me/push-subscriptions`): the browser's PushSubscription, as it sends it. */

const BASE64URL = "^[A-Za-z0-9_-]+={0,2}$";

/** fastest-validator schema of the body: `PushSubscription.toJSON()` of the browser. */
export const pushSubscriptionParams = {
  $$strict: true,
  endpoint: { type: "string", min: 12, max: 2048 },
  // Browsers send it (null for subscriptions that do not expire); notify does not need it.
  expirationTime: { type: "number", optional: true, nullable: true },
  keys: {
    type: "object",
    strict: true,
    props: {
      p256dh: { type: "string", min: 80, max: 100, pattern: BASE64URL },
      auth: { type: "string", min: 16, max: 32, pattern: BASE64URL },
    },
  },
} as const;

export type PushSubscriptionBody = ParamsOf<typeof pushSubscriptionParams>;
