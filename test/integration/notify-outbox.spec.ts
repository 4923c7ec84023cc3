import fs from "node:fs";
import path from "node:path";
import type { ServiceBroker, ServiceSchema } from "moleculer";
import PostalMime from "postal-mime";
import { v7 as uuidv7 } from "uuid";
import { tempDataDir, uniqueName } from "../support/isolation";
import { linksOf, notifySchema, producerSchema, startBroker, waitUntil } from "./notify.helpers";

describe("notify on the embedded defaults (no SMTP_URL, no DATABASE_URL, no AMQP_URL)", () => {
  let broker: ServiceBroker;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDataDir("notify-outbox");
    broker = await startBroker(
      uniqueName("outbox"),
      { NAMESPACE: uniqueName("outbox"), DATA_DIR: dataDir },
      [producerSchema as unknown as ServiceSchema, notifySchema()],
    );
  }, 60_000);

  afterAll(async () => {
    await broker?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when a user is created, then the welcome mail is written as an .eml file under DATA_DIR/outbox", async () => {
    const userId = uuidv7();
    await broker.call("eventsource.emit", {
      type: "user.created",
      data: {
        userId,
        email: "newcomer@example.test",
        name: "Newcomer",
        timezone: "UTC",
        verificationToken: "tok-1",
      },
    });
    const outbox = path.join(dataDir, "outbox");
    const file = await waitUntil(
      async () =>
        fs.existsSync(outbox)
          ? fs.readdirSync(outbox).find(f => f.endsWith(".eml") && f.includes("welcome"))
          : undefined,
      20_000,
      ".eml file",
    );
    expect(fs.readdirSync(outbox).filter(f => f.endsWith(".eml"))).toHaveLength(1);
    const parsed = await PostalMime.parse(fs.readFileSync(path.join(outbox, file)));
    expect(parsed.to?.[0]?.address).toBe("newcomer@example.test");
    expect(parsed.subject).toContain("Newcomer");
    expect(parsed.text).toContain("http://localhost:3000/verify-email?token=tok-1");
    expect(linksOf(parsed.html as string)).toContain(
      "http://localhost:3000/verify-email?token=tok-1",
    );
    // The file is written before the row is marked sent, so the row may still read "queued".
    const sent = await waitUntil(
      async () => {
        const listing = await broker.call<
          { rows: Array<{ status: string; smtpResponse: string }> },
          Record<string, unknown>
        >(
          "notify.emails",
          { template: "welcome" },
          { meta: { user: { id: "a", roles: ["admin"] } } },
        );
        return listing.rows.find(row => row.status === "sent");
      },
      10_000,
      "the welcome mail marked sent",
    );
    expect(sent.smtpResponse).toContain(file);
    // The link signing key was made once and kept with the data.
    expect(fs.existsSync(path.join(dataDir, "notify", "link-signing.key"))).toBe(true);
  });
});
