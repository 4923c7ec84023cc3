import { Errors } from "moleculer";
import { validationError } from "../../lib/errors";

const { MoleculerClientError } = Errors;

export const unknownPlan = (planId: string) =>
  validationError([
    { field: "planId", type: "planExists", message: "There is no such plan", actual: planId },
  ]);

export const unknownCoupon = (code: string) =>
  validationError([
    { field: "coupon", type: "couponExists", message: "There is no such coupon", actual: code },
  ]);

/** successUrl/cancelUrl must lead back to the app, never to somebody else's site. */
export const foreignReturnUrl = (field: "successUrl" | "cancelUrl") =>
  validationError([
    { field, type: "urlOrigin", message: `The '${field}' field must be a page of this app` },
  ]);

export const alreadySubscribed = () =>
  new MoleculerClientError(
    "You already have a subscription; change it in the customer portal",
    409,
    "ALREADY_SUBSCRIBED",
  );

export const noSubscription = () =>
  new MoleculerClientError("You have no subscription", 404, "SUBSCRIPTION_NOT_FOUND");

export const notCancelled = () =>
  new MoleculerClientError(
    "The subscription is not set to end, or has ended already",
    409,
    "SUBSCRIPTION_NOT_CANCELLED",
  );

export const noCustomer = () =>
  new MoleculerClientError("You have no billing account yet", 404, "CUSTOMER_NOT_FOUND");

/** security.md line 27: a delivery whose signature does not verify changes nothing. */
export const badSignature = () =>
  new MoleculerClientError("Webhook signature verification failed", 400, "INVALID_SIGNATURE");

export const invoiceNotFound = (id: string) =>
  new MoleculerClientError("Invoice not found", 404, "INVOICE_NOT_FOUND", { id });

export const nothingToRefund = (id: string) =>
  new MoleculerClientError("The invoice has no payment left to refund", 409, "NOTHING_TO_REFUND", {
    id,
  });

export const couponTaken = (code: string) =>
  new MoleculerClientError("A coupon with this code exists", 409, "COUPON_EXISTS", { code });

export const localSessionNotFound = (id: string) =>
  new MoleculerClientError("Checkout session not found", 404, "CHECKOUT_SESSION_NOT_FOUND", {
    id,
  });
