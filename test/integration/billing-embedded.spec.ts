import fs from "node:fs";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { api, newEmail, PASSWORD, type AuthBody } from "./users.support";

/** Billing on embedded defaults (no STRIPE_* set): what answers, and what says payments are off. */

describe("billing on embedded defaults, without Stripe", () => {
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

  it("when payments are not configured, then plans, subscription and entitlements answer and checkout, portal and webhooks are 503 PAYMENTS_NOT_CONFIGURED", async () => {
    const plans = await client.get<Array<{ id: string }>>("/billing/plans");
    expect(plans.status).toBe(200);
    expect(plans.body.map(p => p.id)).toEqual(["premium-monthly", "premium-yearly"]);
    const me = await client.post<AuthBody>("/auth/register", {
      email: newEmail("embedded"),
      password: PASSWORD,
      name: "Embedded",
    });
    const token = me.body.accessToken;
    expect((await client.get("/me/subscription", token)).body).toMatchObject({ status: "none" });
    expect((await client.get("/me/entitlements", token)).body).toEqual({
      premium: false,
      features: [],
    });
    const checkout = await client.post<{ type: string }>(
      "/billing/checkout",
      {
        planId: "premium-monthly",
        successUrl: "http://localhost:3000/ok",
        cancelUrl: "http://localhost:3000/no",
      },
      token,
    );
    expect(checkout.status).toBe(503);
    expect(checkout.body.type).toBe("PAYMENTS_NOT_CONFIGURED");
    expect((await client.post("/billing/portal", {}, token)).status).toBe(503);
    const webhook = await client.call("POST", "/billing/webhooks/stripe", {
      body: { id: "evt_1", object: "event", type: "invoice.paid" },
      headers: { "stripe-signature": "t=1,v1=00" },
    });
    expect(webhook.status).toBe(503);
  });
});
