import { Errors } from "moleculer";

const { MoleculerClientError } = Errors;

/** Someone else's notification answers exactly like an unknown one. */
export const notificationNotFound = (id: string) =>
  new MoleculerClientError("Notification not found", 404, "NOTIFICATION_NOT_FOUND", { id });

/** A click link this service did not sign: never an open redirect. */
export const linkNotFound = () => new MoleculerClientError("Link not found", 404, "LINK_NOT_FOUND");

export const invalidUnsubscribeToken = () =>
  new MoleculerClientError("Invalid unsubscribe link", 400, "INVALID_UNSUBSCRIBE_TOKEN");

/** Someone else's subscription answers exactly like an unknown one. */
export const pushSubscriptionNotFound = (id: string) =>
  new MoleculerClientError("Push subscription not found", 404, "PUSH_SUBSCRIPTION_NOT_FOUND", {
    id,
  });

/** A cluster started without VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY has Web Push off. */
export const pushNotConfigured = () =>
  new Errors.MoleculerServerError(
    "Web Push is not configured on this deployment",
    503,
    "PUSH_NOT_CONFIGURED",
  );

export const invalidPhoneCode = () =>
  new MoleculerClientError("The code is wrong, used or expired", 422, "INVALID_PHONE_CODE", [
    { field: "code", type: "code", message: "The code is wrong, used or expired." },
  ]);

export const tooManyPhoneCodes = () =>
  new MoleculerClientError("Too many codes asked for; try again in an hour", 429, "TOO_MANY_CODES");

export const smsUnavailable = () =>
  new Errors.MoleculerServerError("The SMS could not be sent; try again", 503, "SMS_UNAVAILABLE");
