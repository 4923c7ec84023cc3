import fs from "node:fs";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { api, newEmail, PASSWORD, type AuthBody } from "./users.support";

/**
 * Billing on embedded defaults (no STRIPE_* set): the local payment provider. Its checkout
 * page on the gateway completes the payment at once and delivers Stripe's events, signed, to
 * the webhook handler — the whole flow with nothing to set up.
 */

describe("billing on embedded defaults: the local payment provider", () => {
  let node: TestNode;
  let dataDir: string;
  let client: ReturnType<typeof api>;

  beforeAll(async () => {
    dataDir = tempDataDir("billing-embedded");
    node = await startTestNode(["api", "users", "billing"], { DATA_DIR: dataDir });
    client = api(node.apiUrl!);
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when a learner checks out and pays on the local page, then the subscription, entitlements and redirect follow", async () => {
    const me = await client.post<AuthBody>("/auth/register", {
      email: newEmail("embedded"),
      password: PASSWORD,
      name: "Embedded",
    });
    const token = me.body.accessToken;
    expect((await client.get("/me/entitlements", token)).body).toEqual({
      premium: false,
      features: [],
    });
    const checkout = await client.post<{ sessionId: string; checkoutUrl: string }>(
      "/billing/checkout",
      {
        planId: "premium-yearly",
        successUrl: "http://localhost:3000/billing/done",
        cancelUrl: "http://localhost:3000/billing",
      },
      token,
    );
    expect(checkout.status).toBe(201);
    const page = new URL(checkout.body.checkoutUrl);
    expect(page.origin).toBe("http://localhost:3000");
    expect(page.pathname).toBe(`/billing/local-checkout/${checkout.body.sessionId}`);

    const shown = await fetch(`${node.origin}${page.pathname}`);
    expect(shown.status).toBe(200);
    expect(shown.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await shown.text();
    expect(html).toContain("Premium, yearly");
    expect(html).toContain("14 days free, then €99.00 a year");

    const paid = await fetch(`${node.origin}${page.pathname}`, {
      method: "POST",
      redirect: "manual",
    });
    expect(paid.status).toBe(303);
    expect(paid.headers.get("location")).toBe("http://localhost:3000/billing/done");
    expect((await client.get("/me/subscription", token)).body).toMatchObject({
      planId: "premium-yearly",
      status: "trialing",
      cancelAtPeriodEnd: false,
    });
    expect((await client.get("/me/entitlements", token)).body).toEqual({
      premium: true,
      features: ["premium"],
    });
    const cancelled = await client.post<{ cancelAtPeriodEnd: boolean }>(
      "/me/subscription/cancel",
      {},
      token,
    );
    expect(cancelled.body.cancelAtPeriodEnd).toBe(true);

    // A session pays once; an unknown one is not found.
    const again = await fetch(`${node.origin}${page.pathname}`, {
      method: "POST",
      redirect: "manual",
    });
    expect(again.status).toBe(404);
    expect((await fetch(`${node.origin}/billing/local-checkout/cs_unknown`)).status).toBe(404);
  });

  it("when someone posts an event to the webhook without the local provider's signature, then 400 and nothing changes", async () => {
    const forged = await client.call("POST", "/billing/webhooks/stripe", {
      body: { id: "evt_1", object: "event", type: "invoice.paid" },
      headers: { "stripe-signature": "t=1,v1=00" },
    });
    expect(forged.status).toBe(400);
  });
});
