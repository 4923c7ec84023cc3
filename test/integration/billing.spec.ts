import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import {
  STRIPE_TEST_KEY,
  STRIPE_WEBHOOK_SECRET,
  StripeDouble,
  type StripeEvent,
} from "./stripe-double";
import { startSmtpCatcher, type SmtpCatcher } from "./notify.helpers";
import { api, newEmail, PASSWORD, sql, waitFor, type AuthBody } from "./users.support";

/**
 * The billing service on the cluster (a gateway+users+notify node and two billing nodes over NATS,
 * PostgreSQL and RabbitMQ), with the `stripe` library pointed at a Stripe double on loopback
 * and webhook events delivered signed exactly as Stripe signs them.
 */

const PUBLIC_URL = "https://learn.example.test";
const namespace = uniqueName("billing");
let db: TestDatabase;
let smtp: SmtpCatcher;
let stripe: StripeDouble;
let gateway: TestNode;
let billingA: TestNode;
let billingB: TestNode;
let client: ReturnType<typeof api>;
let webhookUrl: string;

type Json = Record<string, unknown>;

async function learner(tag: string): Promise<{ id: string; token: string; email: string }> {
  const email = newEmail(tag);
  const res = await client.post<AuthBody>("/auth/register", {
    email,
    password: PASSWORD,
    name: `Learner ${tag}`,
  });
  expect(res.status).toBe(201);
  return { id: res.body.user.id, token: res.body.accessToken, email };
}

async function checkout(token: string, body: Json = {}): Promise<string> {
  const res = await client.post<{ sessionId: string; checkoutUrl: string }>(
    "/billing/checkout",
    {
      planId: "premium-monthly",
      successUrl: `${PUBLIC_URL}/billing/done`,
      cancelUrl: `${PUBLIC_URL}/billing`,
      ...body,
    },
    token,
  );
  expect(res.status).toBe(201);
  return res.body.sessionId;
}

async function deliverAll(events: StripeEvent[]): Promise<void> {
  for (const event of events) {
    const answer = await stripe.deliver(webhookUrl, event);
    expect({ type: event.type, status: answer.status }).toEqual({ type: event.type, status: 200 });
  }
}

/** billing.subscription.changed rows of the outbox for a user, in the order they were written. */
async function changes(userId: string): Promise<Json[]> {
  const rows = await sql<{ payload: { data: Json } }>(
    db.url,
    `SELECT payload FROM billing.outbox WHERE type = 'billing.subscription.changed'
       AND payload->'data'->>'userId' = $1 ORDER BY (payload->'data'->>'sequence')::int`,
    [userId],
  );
  return rows.map(row => row.payload.data);
}

const subscriptionOf = (token: string) => client.get<Json>("/me/subscription", token);
const entitlementsOf = (token: string) => client.get<Json>("/me/entitlements", token);

beforeAll(async () => {
  await requireServers("postgres", "redis", "rabbitmq", "nats");
  db = await createTestDatabase("lm_billing");
  stripe = await new StripeDouble().start();
  smtp = await startSmtpCatcher();
  const env = {
    ...clusterEnv(namespace, db.url),
    PUBLIC_URL,
    STRIPE_SECRET_KEY: STRIPE_TEST_KEY,
    STRIPE_WEBHOOK_SECRET,
    STRIPE_API_URL: stripe.url,
    RATE_LIMIT_RPM: "100000",
    SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
  };
  [billingA, billingB] = await Promise.all([
    startTestNode(["billing"], { ...env, NODE_ID: `${namespace}-billing-a` }),
    startTestNode(["billing"], { ...env, NODE_ID: `${namespace}-billing-b` }),
  ]);
  gateway = await startTestNode(["api", "users", "notify"], {
    ...env,
    NODE_ID: `${namespace}-gw`,
  });
  await gateway.broker.waitForServices(["billing"], 20_000);
  client = api(gateway.apiUrl!);
  webhookUrl = `${gateway.apiUrl}/billing/webhooks/stripe`;
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await Promise.all([billingA?.stop(), billingB?.stop()]);
  await stripe?.stop();
  await smtp?.close();
  await db?.drop();
}, 30_000);

describe("plans and checkout", () => {
  it("when anyone asks for the plans, then each has the contract's fields", async () => {
    const res = await client.get<Json[]>("/billing/plans");
    expect(res.status).toBe(200);
    expect(res.body.map(p => p.id)).toEqual(["premium-monthly", "premium-yearly"]);
    expect(res.body[0]).toEqual({
      id: "premium-monthly",
      name: "Premium, monthly",
      interval: "month",
      price: { amount: 999, currency: "eur" },
      trialDays: 7,
      features: ["premium"],
    });
  });

  it("when a learner starts a checkout, then Stripe gets a subscription session with the plan's price, trial and the learner", async () => {
    const me = await learner("checkout");
    const res = await client.post<Json>(
      "/billing/checkout",
      {
        planId: "premium-yearly",
        successUrl: `${PUBLIC_URL}/billing/done`,
        cancelUrl: `${PUBLIC_URL}/billing`,
      },
      me.token,
    );
    expect(res.status).toBe(201);
    const sessionId = String(res.body.sessionId);
    expect(res.body.checkoutUrl).toBe(`${stripe.url}/pay/${sessionId}`);
    const sent = stripe.requests.find(
      r => r.path === "/v1/checkout/sessions" && r.form.get("client_reference_id") === me.id,
    );
    expect(sent?.form.get("mode")).toBe("subscription");
    expect(sent?.form.get("line_items[0][price_data][unit_amount]")).toBe("9900");
    expect(sent?.form.get("line_items[0][price_data][recurring][interval]")).toBe("year");
    expect(sent?.form.get("subscription_data[trial_period_days]")).toBe("14");
    expect(sent?.form.get("subscription_data[metadata][userId]")).toBe(me.id);
    expect(sent?.form.get("success_url")).toBe(`${PUBLIC_URL}/billing/done`);
    // One Stripe customer per learner, also on a second checkout.
    await checkout(me.token);
    const customers = new Set(
      stripe.requests
        .filter(
          r => r.path === "/v1/checkout/sessions" && r.form.get("client_reference_id") === me.id,
        )
        .map(r => r.form.get("customer")),
    );
    expect(customers.size).toBe(1);
  });

  it("when the plan is unknown or a return address leads to another site, then 422 names the field and Stripe is not asked", async () => {
    const me = await learner("bad-checkout");
    const before = stripe.requests.length;
    const unknownPlan = await client.post<Json>(
      "/billing/checkout",
      { planId: "gold", successUrl: `${PUBLIC_URL}/a`, cancelUrl: `${PUBLIC_URL}/b` },
      me.token,
    );
    expect(unknownPlan.status).toBe(422);
    expect((unknownPlan.body.data as Json[]).map(d => d.field)).toEqual(["planId"]);
    const foreign = await client.post<Json>(
      "/billing/checkout",
      {
        planId: "premium-monthly",
        successUrl: "https://evil.example/x",
        cancelUrl: `${PUBLIC_URL}/b`,
      },
      me.token,
    );
    expect(foreign.status).toBe(422);
    expect((foreign.body.data as Json[]).map(d => d.field)).toEqual(["successUrl"]);
    const unknownCoupon = await client.post<Json>(
      "/billing/checkout",
      {
        planId: "premium-monthly",
        successUrl: `${PUBLIC_URL}/a`,
        cancelUrl: `${PUBLIC_URL}/b`,
        coupon: "NOPE",
      },
      me.token,
    );
    expect(unknownCoupon.status).toBe(422);
    expect(stripe.requests.length).toBe(before);
    const anonymous = await client.post<Json>("/billing/checkout", { planId: "premium-monthly" });
    expect(anonymous.status).toBe(401);
  });
});

describe("a subscription's life through Stripe's webhooks", () => {
  it("when checkout completes, the trial turns active, a renewal is paid, a payment fails and Stripe ends it, then subscription, entitlements, invoices and the events follow", async () => {
    const me = await learner("life");
    expect((await subscriptionOf(me.token)).body).toEqual({
      planId: null,
      status: "none",
      currentPeriodEnd: null,
      cancelAtPeriodEnd: false,
    });
    expect((await entitlementsOf(me.token)).body).toEqual({ premium: false, features: [] });

    const { subscriptionId, events } = stripe.completeCheckout(await checkout(me.token));
    await deliverAll(events);
    const trial = await subscriptionOf(me.token);
    expect(trial.body).toMatchObject({
      planId: "premium-monthly",
      status: "trialing",
      cancelAtPeriodEnd: false,
    });
    const trialEnd = Date.parse(String(trial.body.currentPeriodEnd));
    expect(trialEnd - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect((await entitlementsOf(me.token)).body).toEqual({ premium: true, features: ["premium"] });

    await deliverAll(stripe.renew(subscriptionId));
    const active = await subscriptionOf(me.token);
    expect(active.body.status).toBe("active");
    expect(Date.parse(String(active.body.currentPeriodEnd))).toBeGreaterThan(trialEnd);
    const invoices = await client.get<Json[]>("/me/invoices", me.token);
    expect(invoices.body).toHaveLength(1);
    expect(invoices.body[0]).toMatchObject({ amount: 999, currency: "eur", status: "paid" });
    expect(invoices.body[0].pdfUrl).toMatch(/\.pdf$/);
    expect(invoices.body[0].paidAt).toEqual(expect.any(String));

    await deliverAll(stripe.failPayment(subscriptionId));
    expect((await subscriptionOf(me.token)).body.status).toBe("past_due");
    // The grace period: a failed payment does not take premium away at once.
    expect((await entitlementsOf(me.token)).body.premium).toBe(true);
    const afterFailure = await client.get<Json[]>("/me/invoices", me.token);
    expect(afterFailure.body.map(i => i.status).sort()).toEqual(["open", "paid"]);

    await deliverAll(stripe.end(subscriptionId));
    expect((await subscriptionOf(me.token)).body.status).toBe("canceled");
    expect((await entitlementsOf(me.token)).body).toEqual({ premium: false, features: [] });

    const emitted = await changes(me.id);
    expect(emitted.map(e => e.status)).toEqual(["trialing", "active", "past_due", "canceled"]);
    expect(emitted.map(e => e.premium)).toEqual([true, true, true, false]);
    // One counter per user for every billing event (the receipts count too): strictly rising.
    const sequences = emitted.map(e => Number(e.sequence));
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(4);
    expect(emitted[0]).toMatchObject({ userId: me.id, subscriptionId, planId: "premium-monthly" });
    // notify mails the receipt of the renewal and the news of the failed payment.
    const mailsTo = (subject: RegExp) =>
      smtp.mails.filter(
        m =>
          m.envelopeTo.some(to => to.toLowerCase() === me.email.toLowerCase()) &&
          subject.test(m.parsed.subject ?? ""),
      );
    await smtp.waitFor(
      () => mailsTo(/receipt/).length === 1 && mailsTo(/did not go through/).length === 1,
    );
    const [receipt] = mailsTo(/receipt/);
    expect(receipt.parsed.text).toContain("€9.99");
    expect(receipt.parsed.text).toMatch(
      /Download the invoice \(PDF\): http:\/\/127\.0\.0\.1:\d+\/invoices\/\d+\.pdf/,
    );
    expect(mailsTo(/did not go through/)[0].parsed.text).toContain("€9.99");
    // Relayed to RabbitMQ (the outbox rows are marked sent once the broker confirmed them).
    await waitFor(async () => {
      const unsent = await sql(
        db.url,
        `SELECT id FROM billing.outbox WHERE sent_at IS NULL AND payload->'data'->>'userId' = $1`,
        [me.id],
      );
      return unsent.length === 0;
    }, 10_000);
  });

  it("when an event is delivered again, then it answers 200 and changes nothing", async () => {
    const me = await learner("replay");
    const { subscriptionId, events } = stripe.completeCheckout(await checkout(me.token));
    await deliverAll(events);
    const renewal = stripe.renew(subscriptionId);
    await deliverAll(renewal);
    const before = await changes(me.id);
    const invoicesBefore = (await client.get<Json[]>("/me/invoices", me.token)).body;
    await deliverAll([...events, ...renewal]);
    expect(await changes(me.id)).toEqual(before);
    expect((await client.get<Json[]>("/me/invoices", me.token)).body).toEqual(invoicesBefore);
  });

  it("when events arrive out of order (updated before created), then the state is Stripe's latest and no older state is announced", async () => {
    const me = await learner("order");
    const { subscriptionId, events } = stripe.completeCheckout(await checkout(me.token));
    const failure = stripe.failPayment(subscriptionId);
    await deliverAll([...failure].reverse());
    await deliverAll([...events].reverse());
    expect((await subscriptionOf(me.token)).body).toMatchObject({
      status: "past_due",
      planId: "premium-monthly",
    });
    expect((await changes(me.id)).map(e => e.status)).toEqual(["past_due"]);
    expect((await client.get<Json[]>("/me/invoices", me.token)).body.map(i => i.status)).toEqual([
      "open",
    ]);
  });

  it("when a delivery's signature is wrong, forged over another body, stale or missing, then 400 and nothing changes", async () => {
    const me = await learner("forged");
    const { events } = stripe.completeCheckout(await checkout(me.token));
    const [completed] = events;
    const payload = JSON.stringify(completed, null, 2);
    const attempts = [
      { secret: "whsec_not_the_endpoint_secret" },
      { signature: stripe.sign(JSON.stringify({ ...completed, id: "evt_other" }, null, 2)) },
      { timestamp: Math.floor(Date.now() / 1000) - 301 },
      { signature: stripe.sign(payload).replace(/v1=[0-9a-f]+/, `v1=${"0".repeat(64)}`) },
    ];
    for (const opts of attempts) {
      const answer = await stripe.deliver(webhookUrl, completed, opts);
      expect(answer.status).toBe(400);
      expect(answer.body).toMatchObject({ code: 400, type: "INVALID_SIGNATURE" });
    }
    const unsigned = await fetch(webhookUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: payload,
    });
    expect(unsigned.status).toBe(400);
    expect((await subscriptionOf(me.token)).body.status).toBe("none");
    expect(await changes(me.id)).toEqual([]);
    const recorded = await sql(db.url, "SELECT id FROM billing.webhook_events WHERE id = $1", [
      completed.id,
    ]);
    expect(recorded).toEqual([]);
    // Signed as Stripe signs it, the same event is then accepted.
    await deliverAll([completed]);
    expect((await subscriptionOf(me.token)).body.status).toBe("trialing");
  });

  it("when the same events reach both billing nodes at once, then each is applied exactly once", async () => {
    const me = await learner("concurrent");
    const { events } = stripe.completeCheckout(await checkout(me.token));
    const direct = (node: TestNode, event: StripeEvent) => {
      const payload = JSON.stringify(event);
      return node.broker.call(
        "billing.stripeWebhook",
        { payload },
        {
          nodeID: node.broker.nodeID,
          meta: { requestHeaders: { "stripe-signature": stripe.sign(payload) } },
        },
      );
    };
    const deliveries = events.flatMap(event => [
      direct(billingA, event),
      direct(billingB, event),
      direct(billingA, event),
      direct(billingB, event),
      stripe.deliver(webhookUrl, event).then(answer => expect(answer.status).toBe(200)),
    ]);
    await Promise.all(deliveries);
    expect((await changes(me.id)).map(e => e.status)).toEqual(["trialing"]);
    const recorded = await sql<{ n: string }>(
      db.url,
      "SELECT COUNT(*) AS n FROM billing.webhook_events WHERE id = ANY($1)",
      [events.map(e => e.id)],
    );
    expect(Number(recorded[0].n)).toBe(events.length);
  });
});

describe("cancel, resume and the portal", () => {
  it("when a subscriber cancels, then it ends at the period's end at Stripe; resume undoes it", async () => {
    const me = await learner("cancel");
    const { subscriptionId, events } = stripe.completeCheckout(await checkout(me.token));
    await deliverAll(events);
    const cancelled = await client.post<Json>("/me/subscription/cancel", {}, me.token);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: "trialing", cancelAtPeriodEnd: true });
    expect(stripe.subscriptions.get(subscriptionId)?.cancel_at_period_end).toBe(true);
    // Still premium until the period ends.
    expect((await entitlementsOf(me.token)).body.premium).toBe(true);
    const resumed = await client.post<Json>("/me/subscription/resume", {}, me.token);
    expect(resumed.status).toBe(200);
    expect(resumed.body.cancelAtPeriodEnd).toBe(false);
    expect(stripe.subscriptions.get(subscriptionId)?.cancel_at_period_end).toBe(false);
    const again = await client.post<Json>("/me/subscription/resume", {}, me.token);
    expect(again.status).toBe(409);
    // Stripe's own event of the change announces nothing new.
    await deliverAll([
      stripe.event("customer.subscription.updated", stripe.subscriptions.get(subscriptionId)!),
    ]);
    expect((await changes(me.id)).map(e => e.cancelAtPeriodEnd)).toEqual([false, true, false]);
  });

  it("when a learner without a subscription cancels, then 404; a checkout while subscribed is 409", async () => {
    const me = await learner("nosub");
    expect((await client.post<Json>("/me/subscription/cancel", {}, me.token)).status).toBe(404);
    expect((await client.post<Json>("/billing/portal", {}, me.token)).status).toBe(404);
    const { events } = stripe.completeCheckout(await checkout(me.token));
    await deliverAll(events);
    const second = await client.post<Json>(
      "/billing/checkout",
      { planId: "premium-yearly", successUrl: `${PUBLIC_URL}/a`, cancelUrl: `${PUBLIC_URL}/b` },
      me.token,
    );
    expect(second.status).toBe(409);
    expect(second.body.type).toBe("ALREADY_SUBSCRIBED");
  });

  it("when a customer opens the portal, then 201 with Stripe's portal URL for their customer", async () => {
    const me = await learner("portal");
    await checkout(me.token);
    const res = await client.post<Json>("/billing/portal", {}, me.token);
    expect(res.status).toBe(201);
    const customer = stripe.requests
      .find(r => r.form.get("client_reference_id") === me.id)
      ?.form.get("customer");
    expect(res.body).toEqual({ url: `${stripe.url}/portal/${customer}` });
    const sent = stripe.requests.find(
      r => r.path === "/v1/billing_portal/sessions" && r.form.get("customer") === customer,
    );
    expect(sent?.form.get("return_url")).toBe(`${PUBLIC_URL}/account/billing`);
  });
});

describe("erasure", () => {
  it("when a subscriber's account is erased, then Stripe forgets the customer, invoices stay unlinked and late events write nothing", async () => {
    const me = await learner("erased");
    const { subscriptionId, events } = stripe.completeCheckout(await checkout(me.token));
    await deliverAll([...events, ...stripe.renew(subscriptionId)]);
    const [invoice] = (await client.get<Json[]>("/me/invoices", me.token)).body;
    const customer = String(stripe.subscriptions.get(subscriptionId)?.customer);

    await gateway.broker.call("users.remove", { id: me.id });
    await waitFor(async () => {
      const rows = await sql(db.url, "SELECT 1 FROM billing.erased_users WHERE user_id = $1", [
        me.id,
      ]);
      return rows.length === 1;
    }, 15_000);
    expect(stripe.customers.has(customer)).toBe(false);
    expect(stripe.subscriptions.get(subscriptionId)?.status).toBe("canceled");
    const kept = await sql(db.url, "SELECT user_id, amount FROM billing.invoices WHERE id = $1", [
      invoice.id,
    ]);
    expect(kept).toEqual([{ user_id: null, amount: 999 }]);
    const mine = async () => ({
      subscriptions: await sql(db.url, "SELECT id FROM billing.subscriptions WHERE user_id = $1", [
        me.id,
      ]),
      customers: await sql(db.url, "SELECT 1 FROM billing.customers WHERE user_id = $1", [me.id]),
      invoices: await sql(db.url, "SELECT id FROM billing.invoices WHERE user_id = $1", [me.id]),
    });
    expect(await mine()).toEqual({ subscriptions: [], customers: [], invoices: [] });
    // Stripe's own news of the ending arrives afterwards: it is accepted and writes nothing.
    await deliverAll([...stripe.end(subscriptionId), ...stripe.renew(subscriptionId)]);
    expect(await mine()).toEqual({ subscriptions: [], customers: [], invoices: [] });
  });
});

describe("admin: coupons and refunds", () => {
  let adminToken: string;

  beforeAll(async () => {
    // The first admin is made by an operator (REPL: call users.setRoles).
    const admin = await learner("admin");
    await gateway.broker.call("users.setRoles", { id: admin.id, roles: ["admin"] });
    const login = await waitFor(async () => {
      const res = await client.post<AuthBody>("/auth/login", {
        email: admin.email,
        password: PASSWORD,
      });
      return res.body.user?.roles.includes("admin") ? res.body : undefined;
    });
    adminToken = login.accessToken;
  });

  it("when an admin creates a coupon, then it exists at Stripe, is listed, and a checkout with its code carries it", async () => {
    const created = await client.post<Json>(
      "/admin/coupons",
      {
        code: "WELCOME20",
        percentOff: 20,
        duration: "repeating",
        durationInMonths: 3,
        maxRedemptions: 100,
      },
      adminToken,
    );
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      code: "WELCOME20",
      percentOff: 20,
      amountOff: null,
      duration: "repeating",
    });
    const atStripe = [...stripe.coupons.values()].find(c => c.name === "WELCOME20");
    expect(atStripe).toMatchObject({
      percent_off: 20,
      duration: "repeating",
      max_redemptions: 100,
    });
    const list = await client.get<Json>("/admin/coupons", adminToken);
    expect(list.body).toMatchObject({ total: 1, page: 1 });
    expect(
      await client.post<Json>(
        "/admin/coupons",
        { code: "WELCOME20", percentOff: 5, duration: "once" },
        adminToken,
      ),
    ).toMatchObject({ status: 409 });

    const me = await learner("coupon");
    const sessionId = await checkout(me.token, { coupon: "WELCOME20" });
    expect(stripe.sessions.get(sessionId)?.coupon).toBe(atStripe?.id);
  });

  it("when a coupon is both or neither percent and amount off, then 422; a learner gets 403", async () => {
    const both = await client.post<Json>(
      "/admin/coupons",
      { code: "BOTH", percentOff: 5, amountOff: 100, currency: "eur", duration: "once" },
      adminToken,
    );
    expect(both.status).toBe(422);
    const neither = await client.post<Json>(
      "/admin/coupons",
      { code: "NEITHER", duration: "forever" },
      adminToken,
    );
    expect(neither.status).toBe(422);
    const me = await learner("not-admin");
    expect(
      (
        await client.post<Json>(
          "/admin/coupons",
          { code: "MINE", percentOff: 99, duration: "forever" },
          me.token,
        )
      ).status,
    ).toBe(403);
    expect(
      (await client.post<Json>("/admin/refunds", { invoiceId: "in_x" }, me.token)).status,
    ).toBe(403);
  });

  it("when an admin refunds an invoice, then Stripe refunds its payment and charge.refunded marks the invoice refunded", async () => {
    const me = await learner("refund");
    const { subscriptionId, events } = stripe.completeCheckout(await checkout(me.token));
    await deliverAll([...events, ...stripe.renew(subscriptionId)]);
    const [invoice] = (await client.get<Json[]>("/me/invoices", me.token)).body;
    const partial = await client.post<Json>(
      "/admin/refunds",
      { invoiceId: invoice.id, amount: 300 },
      adminToken,
    );
    expect(partial.status).toBe(201);
    expect(partial.body).toMatchObject({ invoiceId: invoice.id, amount: 300, status: "succeeded" });
    await deliverAll([stripe.refundedCharge(String(invoice.id))]);
    const tooMuch = await client.post<Json>(
      "/admin/refunds",
      { invoiceId: invoice.id, amount: 700 },
      adminToken,
    );
    expect(tooMuch.status).toBe(422);
    const rest = await client.post<Json>("/admin/refunds", { invoiceId: invoice.id }, adminToken);
    expect(rest.body.amount).toBe(699);
    await deliverAll([stripe.refundedCharge(String(invoice.id))]);
    expect((await client.get<Json[]>("/me/invoices", me.token)).body[0].status).toBe("refunded");
    expect(stripe.refunds.slice(-2).map(r => r.amount)).toEqual([300, 699]);
    expect(
      (await client.post<Json>("/admin/refunds", { invoiceId: invoice.id }, adminToken)).status,
    ).toBe(409);
    expect(
      (await client.post<Json>("/admin/refunds", { invoiceId: "in_unknown" }, adminToken)).status,
    ).toBe(404);
  });
});
