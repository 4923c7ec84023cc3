import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import Stripe from "stripe";

/**
 * A Stripe on loopback: the part of Stripe's REST API the billing service calls (customers,
 * Checkout Sessions, portal sessions, subscriptions, invoice payments, refunds, coupons),
 * answering in Stripe's shapes and form encoding, plus what Stripe itself does next — a
 * checkout completed, a renewal, a failed payment, an end — each as the webhook events Stripe
 * would send, signed with the endpoint secret by the `stripe` library's own test-header helper.
 */

export const STRIPE_TEST_KEY = "sk_test_lingomesh_double";
export const STRIPE_WEBHOOK_SECRET = "whsec_lingomesh_double_secret";

type Json = Record<string, unknown>;

export interface StripeEvent {
  id: string;
  object: "event";
  type: string;
  created: number;
  api_version: string;
  livemode: false;
  pending_webhooks: number;
  request: { id: null; idempotency_key: null };
  data: { object: Json };
}

export interface RecordedRequest {
  method: string;
  path: string;
  form: URLSearchParams;
}

interface CheckoutSession {
  id: string;
  customer: string;
  userId: string;
  planId: string;
  trialDays: number;
  coupon?: string;
  amount: number;
  currency: string;
  interval: "month" | "year";
  url: string;
}

const DAY = 86_400;
const now = () => Math.floor(Date.now() / 1000);
const newId = (prefix: string) => `${prefix}_${crypto.randomBytes(8).toString("hex")}`;

export class StripeDouble {
  readonly requests: RecordedRequest[] = [];
  readonly customers = new Map<string, Json>();
  readonly sessions = new Map<string, CheckoutSession>();
  readonly subscriptions = new Map<string, Json>();
  readonly invoices = new Map<string, Json>();
  readonly refunds: Json[] = [];
  readonly coupons = new Map<string, Json>();
  private readonly paymentOfInvoice = new Map<string, string>();
  private readonly charges = new Map<string, Json>();
  private readonly idempotent = new Map<string, Json>();
  private readonly signer = new Stripe(STRIPE_TEST_KEY);
  private server?: http.Server;
  url = "";

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => this.answer(req, body, res));
    });
    await new Promise<void>(resolve => this.server!.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise(resolve => this.server?.close(resolve));
  }

  private answer(req: http.IncomingMessage, body: string, res: http.ServerResponse): void {
    const send = (status: number, json: Json) => {
      res.writeHead(status, { "content-type": "application/json", "request-id": newId("req") });
      res.end(JSON.stringify(json));
    };
    if (req.headers.authorization !== `Bearer ${STRIPE_TEST_KEY}`) {
      return send(401, { error: { type: "invalid_request_error", message: "Invalid API Key" } });
    }
    const url = new URL(req.url ?? "/", this.url);
    const form = new URLSearchParams(req.method === "GET" ? url.search : body);
    this.requests.push({ method: req.method ?? "GET", path: url.pathname, form });
    const key = req.headers["idempotency-key"];
    const remembered = typeof key === "string" ? this.idempotent.get(key) : undefined;
    if (remembered) return send(200, remembered);
    const found = this.route(req.method ?? "GET", url.pathname, form);
    if (!found) {
      return send(404, {
        error: { type: "invalid_request_error", message: `No such route ${url.pathname}` },
      });
    }
    if (typeof key === "string") this.idempotent.set(key, found);
    send(200, found);
  }

  private route(method: string, path: string, form: URLSearchParams): Json | undefined {
    const [, , resource, id] = path.split("/");
    if (method === "POST" && path === "/v1/customers") {
      const customer = { id: newId("cus"), object: "customer", metadata: {} };
      this.customers.set(customer.id, customer);
      return customer;
    }
    if (method === "DELETE" && resource === "customers" && id) {
      if (!this.customers.delete(id)) return undefined;
      // Stripe ends a deleted customer's subscriptions at once.
      for (const sub of this.subscriptions.values())
        if (sub.customer === id) sub.status = "canceled";
      return { id, object: "customer", deleted: true };
    }
    if (method === "POST" && path === "/v1/checkout/sessions") return this.createSession(form);
    if (method === "POST" && path === "/v1/billing_portal/sessions") {
      return {
        id: newId("bps"),
        object: "billing_portal.session",
        customer: form.get("customer"),
        return_url: form.get("return_url"),
        url: `${this.url}/portal/${form.get("customer")}`,
      };
    }
    if (resource === "subscriptions" && id) {
      const sub = this.subscriptions.get(id);
      if (!sub) return undefined;
      if (method === "POST" && form.has("cancel_at_period_end")) {
        sub.cancel_at_period_end = form.get("cancel_at_period_end") === "true";
      }
      return sub;
    }
    if (method === "GET" && path === "/v1/invoice_payments") {
      const invoice = form.get("invoice") ?? "";
      const intent = this.paymentOfInvoice.get(invoice);
      const data = intent
        ? [
            {
              id: newId("inpay"),
              object: "invoice_payment",
              invoice,
              status: "paid",
              payment: { type: "payment_intent", payment_intent: intent },
            },
          ]
        : [];
      return { object: "list", data, has_more: false, url: "/v1/invoice_payments" };
    }
    if (method === "POST" && path === "/v1/refunds") return this.createRefund(form);
    if (method === "POST" && path === "/v1/coupons") {
      const coupon = {
        id: newId("coupon"),
        object: "coupon",
        name: form.get("name"),
        percent_off: form.has("percent_off") ? Number(form.get("percent_off")) : null,
        amount_off: form.has("amount_off") ? Number(form.get("amount_off")) : null,
        currency: form.get("currency"),
        duration: form.get("duration"),
        max_redemptions: form.has("max_redemptions") ? Number(form.get("max_redemptions")) : null,
      };
      this.coupons.set(coupon.id, coupon);
      return coupon;
    }
    return undefined;
  }

  private createSession(form: URLSearchParams): Json {
    const id = newId("cs_test");
    const session: CheckoutSession = {
      id,
      customer: form.get("customer") ?? "",
      userId: form.get("subscription_data[metadata][userId]") ?? "",
      planId: form.get("subscription_data[metadata][planId]") ?? "",
      trialDays: Number(form.get("subscription_data[trial_period_days]") ?? 0),
      coupon: form.get("discounts[0][coupon]") ?? undefined,
      amount: Number(form.get("line_items[0][price_data][unit_amount]")),
      currency: form.get("line_items[0][price_data][currency]") ?? "eur",
      interval:
        form.get("line_items[0][price_data][recurring][interval]") === "year" ? "year" : "month",
      url: `${this.url}/pay/${id}`,
    };
    this.sessions.set(id, session);
    return {
      id,
      object: "checkout.session",
      mode: "subscription",
      customer: session.customer,
      client_reference_id: form.get("client_reference_id"),
      url: session.url,
      status: "open",
    };
  }

  private createRefund(form: URLSearchParams): Json | undefined {
    const intent = form.get("payment_intent") ?? "";
    const charge = this.charges.get(intent);
    if (!charge) return undefined;
    const left = Number(charge.amount) - Number(charge.amount_refunded);
    const amount = form.has("amount") ? Number(form.get("amount")) : left;
    charge.amount_refunded = Number(charge.amount_refunded) + amount;
    charge.refunded = charge.amount_refunded === charge.amount;
    const refund = {
      id: newId("re"),
      object: "refund",
      amount,
      payment_intent: intent,
      charge: charge.id,
      status: "succeeded",
    };
    this.refunds.push(refund);
    return refund;
  }

  // What Stripe does on its side, each answered with the events it would deliver.

  event(type: string, object: Json, created = now()): StripeEvent {
    return {
      id: newId("evt"),
      object: "event",
      type,
      created,
      api_version: Stripe.API_VERSION,
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
      data: { object: structuredClone(object) },
    };
  }

  /** The learner paid (or started the trial) on Stripe's page. */
  completeCheckout(sessionId: string): { subscriptionId: string; events: StripeEvent[] } {
    const session = this.sessions.get(sessionId);
    if (!session) throw new Error(`no checkout session ${sessionId}`);
    const start = now();
    const trialing = session.trialDays > 0;
    const periodEnd = trialing
      ? start + session.trialDays * DAY
      : start + (session.interval === "year" ? 365 : 30) * DAY;
    const subscription: Json = {
      id: newId("sub"),
      object: "subscription",
      customer: session.customer,
      status: trialing ? "trialing" : "active",
      cancel_at_period_end: false,
      created: start,
      metadata: { userId: session.userId, planId: session.planId },
      items: {
        object: "list",
        data: [{ id: newId("si"), object: "subscription_item", current_period_end: periodEnd }],
      },
    };
    this.subscriptions.set(String(subscription.id), subscription);
    const completed = this.event("checkout.session.completed", {
      id: session.id,
      object: "checkout.session",
      mode: "subscription",
      customer: session.customer,
      client_reference_id: session.userId,
      subscription: subscription.id,
      status: "complete",
    });
    const events = [completed, this.event("customer.subscription.created", subscription)];
    if (!trialing) events.push(this.paidInvoice(subscription, session.amount, session.currency));
    return { subscriptionId: String(subscription.id), events };
  }

  private invoice(sub: Json, amount: number, currency: string, status: "paid" | "open"): Json {
    const invoice: Json = {
      id: newId("in"),
      object: "invoice",
      customer: sub.customer,
      number: `LM-${this.invoices.size + 1}`,
      amount_due: amount,
      amount_paid: status === "paid" ? amount : 0,
      currency,
      status,
      created: now(),
      status_transitions: { paid_at: status === "paid" ? now() : null },
      invoice_pdf: `${this.url}/invoices/${this.invoices.size + 1}.pdf`,
      parent: { type: "subscription_details", subscription_details: { subscription: sub.id } },
    };
    this.invoices.set(String(invoice.id), invoice);
    if (status === "paid") {
      const intent = newId("pi");
      this.paymentOfInvoice.set(String(invoice.id), intent);
      this.charges.set(intent, {
        id: newId("ch"),
        object: "charge",
        amount,
        amount_refunded: 0,
        refunded: false,
        payment_intent: intent,
      });
    }
    return invoice;
  }

  private paidInvoice(sub: Json, amount: number, currency: string): StripeEvent {
    return this.event("invoice.paid", this.invoice(sub, amount, currency, "paid"));
  }

  private setPeriodEnd(sub: Json, end: number): void {
    const items = sub.items as { data: Array<{ current_period_end: number }> };
    items.data[0].current_period_end = end;
  }

  /** The next period was paid. */
  renew(subscriptionId: string, amount = 999): StripeEvent[] {
    const sub = this.subscriptions.get(subscriptionId)!;
    sub.status = "active";
    const items = sub.items as { data: Array<{ current_period_end: number }> };
    this.setPeriodEnd(sub, items.data[0].current_period_end + 30 * DAY);
    return [this.paidInvoice(sub, amount, "eur"), this.event("customer.subscription.updated", sub)];
  }

  /** The renewal's payment failed: the subscription is past due. */
  failPayment(subscriptionId: string, amount = 999): StripeEvent[] {
    const sub = this.subscriptions.get(subscriptionId)!;
    sub.status = "past_due";
    return [
      this.event("invoice.payment_failed", this.invoice(sub, amount, "eur", "open")),
      this.event("customer.subscription.updated", sub),
    ];
  }

  /** Stripe gave up (or the period ended after a cancellation): the subscription is over. */
  end(subscriptionId: string): StripeEvent[] {
    const sub = this.subscriptions.get(subscriptionId)!;
    sub.status = "canceled";
    sub.ended_at = now();
    return [this.event("customer.subscription.deleted", sub)];
  }

  /** The charge of an invoice as charge.refunded reports it after the refunds so far. */
  refundedCharge(invoiceId: string): StripeEvent {
    const charge = this.charges.get(this.paymentOfInvoice.get(invoiceId) ?? "");
    if (!charge) throw new Error(`invoice ${invoiceId} has no charge`);
    return this.event("charge.refunded", charge);
  }

  /** The `Stripe-Signature` header Stripe would send for this body. */
  sign(payload: string, opts: { secret?: string; timestamp?: number } = {}): string {
    return this.signer.webhooks.generateTestHeaderString({
      payload,
      secret: opts.secret ?? STRIPE_WEBHOOK_SECRET,
      timestamp: opts.timestamp,
    });
  }

  /** Delivers an event to a webhook endpoint as Stripe does: the JSON body and its signature. */
  async deliver(
    endpoint: string,
    event: StripeEvent,
    opts: { secret?: string; timestamp?: number; signature?: string } = {},
  ): Promise<{ status: number; body: Json }> {
    const payload = JSON.stringify(event, null, 2);
    const res = await fetch(endpoint, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": opts.signature ?? this.sign(payload, opts),
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body: payload,
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
  }
}
