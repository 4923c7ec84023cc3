import crypto from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import type { AppConfig } from "../../lib/config";

/**
 * SMS out: Twilio's Messages API (`POST …/Messages.json`, form-encoded `To`, `From`, `Body`,
 * HTTP Basic with the account SID and auth token) at SMS_URL, whose user and password are the
 * credentials; any provider speaking that API works. Unset: each SMS is a file under
 * DATA_DIR/sms, as mail is under DATA_DIR/outbox.
 */

export interface SmsSender {
  mode: "provider" | "files";
  send(to: string, body: string): Promise<void>;
}

class ProviderSms implements SmsSender {
  readonly mode = "provider";
  private readonly endpoint: string;
  private readonly authorization: string;

  constructor(
    url: string,
    private readonly from: string,
  ) {
    const parsed = new URL(url);
    const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
    this.authorization = `Basic ${Buffer.from(credentials).toString("base64")}`;
    parsed.username = "";
    parsed.password = "";
    this.endpoint = parsed.toString();
  }

  async send(to: string, body: string): Promise<void> {
    const res = await fetch(this.endpoint, {
      method: "POST",
      headers: {
        authorization: this.authorization,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ To: to, From: this.from, Body: body }),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    // Twilio answers 201 Created with the message resource.
    if (res.status < 200 || res.status >= 300) {
      throw new Error(`SMS provider answered ${res.status}`);
    }
  }
}

class FileSms implements SmsSender {
  readonly mode = "files";

  constructor(
    private readonly dir: string,
    private readonly from: string,
  ) {}

  async send(to: string, body: string): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = `${new Date().toISOString().replace(/[:.]/g, "-")}-${crypto.randomUUID()}.txt`;
    await fs.writeFile(path.join(this.dir, name), `From: ${this.from}\nTo: ${to}\n\n${body}\n`, {
      mode: 0o600,
    });
  }
}

export function createSmsSender(cfg: AppConfig): SmsSender {
  return cfg.smsUrl
    ? new ProviderSms(cfg.smsUrl, cfg.smsFrom)
    : new FileSms(path.join(cfg.dataDir, "sms"), cfg.smsFrom);
}
