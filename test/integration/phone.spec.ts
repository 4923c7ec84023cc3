import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { ServiceBroker } from "moleculer";
import { QueryTypes, type Sequelize } from "sequelize";
import { createSmsSender } from "../../services/notify/sms";
import { startTestNode, type TestNode } from "../support/cluster";
import {
  clusterEnv,
  createTestDatabase,
  tempDataDir,
  testConfig,
  uniqueName,
  type TestDatabase,
} from "../support/isolation";
import { requireServers } from "../support/servers";
import { notifySchema, startBroker } from "./notify.helpers";
import { api, newEmail, PASSWORD, type AuthBody } from "./users.support";

/**
 * `/me/phone` and `/me/phone/verify` (api.md) through the real gateway and notify, with SMS sent
 * to a local HTTP server speaking Twilio's Messages API (form-encoded To/From/Body, Basic auth).
 */

jest.setTimeout(60_000);

const SID = "AC0123456789abcdef0123456789abcdef";
const TOKEN = "secret-auth-token";

interface Sms {
  to: string;
  from: string;
  body: string;
  authorization: string | undefined;
  path: string;
}

describe("phone numbers verified by an SMS code", () => {
  const namespace = uniqueName("phone");
  let db: TestDatabase;
  let gateway: TestNode;
  let notify: ServiceBroker;
  let twilio: http.Server;
  const sent: Sms[] = [];
  let a: ReturnType<typeof api>;

  async function register(tag: string): Promise<AuthBody> {
    const res = await a.post<AuthBody>("/auth/register", {
      email: newEmail(tag),
      password: PASSWORD,
      name: `Phone ${tag}`,
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  const codeIn = (sms: Sms) => /\b(\d{6})\b/.exec(sms.body)?.[1] as string;

  beforeAll(async () => {
    await requireServers("postgres", "redis", "nats", "rabbitmq");
    db = await createTestDatabase("lm_phone");
    twilio = http.createServer((req, res) => {
      let raw = "";
      req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
      req.on("end", () => {
        const form = new URLSearchParams(raw);
        sent.push({
          to: form.get("To") ?? "",
          from: form.get("From") ?? "",
          body: form.get("Body") ?? "",
          authorization: req.headers.authorization,
          path: req.url ?? "",
        });
        res.writeHead(201, { "content-type": "application/json" });
        res.end(JSON.stringify({ sid: "SM1", status: "queued" }));
      });
    });
    await new Promise<void>(resolve => twilio.listen(0, "127.0.0.1", resolve));
    const { port } = twilio.address() as AddressInfo;
    const env = {
      ...clusterEnv(namespace, db.url),
      RATE_LIMIT_RPM: "1000000",
      SMS_URL: `http://${SID}:${TOKEN}@127.0.0.1:${port}/2010-04-01/Accounts/${SID}/Messages.json`,
      SMS_FROM: "+15550001111",
    };
    gateway = await startTestNode(["api", "users"], { ...env, NODE_ID: `${namespace}-edge` });
    notify = await startBroker(`${namespace}-notify`, env, [notifySchema()]);
    await gateway.broker.waitForServices(["notify"], 15_000);
    a = api(gateway.apiUrl as string);
  });

  afterAll(async () => {
    await notify?.stop();
    await gateway?.stop();
    await new Promise(resolve => twilio?.close(resolve));
    await db?.drop();
  });

  it("when a number is set, then Twilio's API gets one SMS with a 6-digit code, and that code verifies it once", async () => {
    const learner = await register("verify");
    const set = await a.post("/me/phone", { phone: "+14155550123" }, learner.accessToken);
    expect(set.status).toBe(202);
    expect(set.body).toMatchObject({ phone: "+14155550123", verified: false });
    expect(Date.parse(set.body.codeExpiresAt as string) - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(sent).toHaveLength(1);
    const sms = sent[0];
    expect(sms).toMatchObject({
      to: "+14155550123",
      from: "+15550001111",
      path: `/2010-04-01/Accounts/${SID}/Messages.json`,
      authorization: `Basic ${Buffer.from(`${SID}:${TOKEN}`).toString("base64")}`,
    });
    const code = codeIn(sms);
    expect(code).toMatch(/^\d{6}$/);
    const wrong = String((Number(code) + 1) % 1_000_000).padStart(6, "0");
    const bad = await a.post("/me/phone/verify", { code: wrong }, learner.accessToken);
    expect(bad.status).toBe(422);
    expect((await a.post("/me/phone/verify", { code }, learner.accessToken)).status).toBe(204);
    // Used: the same code again is refused.
    expect((await a.post("/me/phone/verify", { code }, learner.accessToken)).status).toBe(422);
    // Kept as an HMAC, never as the code.
    const { sequelize } = notify.getLocalService("notify") as unknown as { sequelize: Sequelize };
    const rows = await sequelize.query<{ code_hash: string | null; verified: boolean }>(
      `SELECT code_hash, verified FROM notify.phones`,
      { type: QueryTypes.SELECT },
    );
    expect(rows.some(row => row.verified)).toBe(true);
    expect(JSON.stringify(rows)).not.toContain(code);
  });

  it("when five wrong guesses were made, then even the right code is refused", async () => {
    const learner = await register("guess");
    await a.post("/me/phone", { phone: "+14155550999" }, learner.accessToken);
    const code = codeIn(sent[sent.length - 1]);
    const wrong = String((Number(code) + 7) % 1_000_000).padStart(6, "0");
    for (let i = 0; i < 5; i++) {
      expect((await a.post("/me/phone/verify", { code: wrong }, learner.accessToken)).status).toBe(
        422,
      );
    }
    expect((await a.post("/me/phone/verify", { code }, learner.accessToken)).status).toBe(422);
  });

  it("when more than three codes are asked for within an hour, then 429 and no SMS", async () => {
    const learner = await register("limit");
    for (let i = 0; i < 3; i++) {
      expect(
        (await a.post("/me/phone", { phone: "+14155550100" }, learner.accessToken)).status,
      ).toBe(202);
    }
    const before = sent.length;
    expect((await a.post("/me/phone", { phone: "+14155550100" }, learner.accessToken)).status).toBe(
      429,
    );
    expect(sent).toHaveLength(before);
  });

  it("when the number is not E.164 or a field is unknown, then 422", async () => {
    const learner = await register("bad");
    expect((await a.post("/me/phone", { phone: "0612345678" }, learner.accessToken)).status).toBe(
      422,
    );
    expect(
      (await a.post("/me/phone", { phone: "+14155550100", verified: true }, learner.accessToken))
        .status,
    ).toBe(422);
    expect((await a.post("/me/phone", { phone: "+14155550100" })).status).toBe(401);
  });
});

describe("SMS without SMS_URL", () => {
  it("when a code is sent on the embedded defaults, then it is a file under DATA_DIR/sms", async () => {
    const dataDir = tempDataDir("sms");
    const sms = createSmsSender(testConfig({ DATA_DIR: dataDir }));
    expect(sms.mode).toBe("files");
    await sms.send("+14155550123", "Your Lingomesh code is 123456.");
    const files = fs.readdirSync(path.join(dataDir, "sms"));
    expect(files).toHaveLength(1);
    expect(fs.readFileSync(path.join(dataDir, "sms", files[0]), "utf8")).toContain(
      "To: +14155550123",
    );
  });
});
