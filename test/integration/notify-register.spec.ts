import fs from "node:fs";
import path from "node:path";
import PostalMime from "postal-mime";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { waitUntil } from "./notify.helpers";

describe("notify with the real users service and gateway (embedded defaults)", () => {
  let node: TestNode;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = tempDataDir("notify-register");
    node = await startTestNode(["api", "users", "notify"], { DATA_DIR: dataDir });
  }, 60_000);

  afterAll(async () => {
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when a user registers, then a welcome mail arrives whose verify link verifies the address", async () => {
    const res = await fetch(`${node.apiUrl}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        email: "reader@example.test",
        password: "a long enough passphrase",
        name: "Reader",
      }),
    });
    expect(res.status).toBe(201);
    const { accessToken } = (await res.json()) as { accessToken: string };
    const outbox = path.join(dataDir, "outbox");
    const file = await waitUntil(
      async () =>
        fs.existsSync(outbox)
          ? fs.readdirSync(outbox).find(f => f.includes("-welcome-"))
          : undefined,
      20_000,
      "welcome .eml",
    );
    const mail = await PostalMime.parse(fs.readFileSync(path.join(outbox, file)));
    const link = /http:\/\/localhost:3000\/verify-email\?token=([^\s"&]+)/.exec(
      mail.text as string,
    );
    expect(link).not.toBeNull();
    const verify = await fetch(`${node.apiUrl}/auth/verify-email`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ token: decodeURIComponent(link?.[1] as string) }),
    });
    expect(verify.status).toBe(204);
    const me = await fetch(`${node.apiUrl}/me`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(((await me.json()) as { emailVerified: boolean }).emailVerified).toBe(true);
    const prefs = await fetch(`${node.apiUrl}/me/notification-preferences`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(prefs.status).toBe(200);
    expect(await prefs.json()).toEqual({
      email: { marketing: false, achievements: true, reminders: true, weeklyReport: true },
    });
    const list = await fetch(`${node.apiUrl}/me/notifications`, {
      headers: { authorization: `Bearer ${accessToken}` },
    });
    expect(list.status).toBe(200);
    expect(await list.json()).toMatchObject({ rows: [], total: 0, unread: 0 });
  });
});
