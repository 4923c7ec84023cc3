import fs from "node:fs/promises";
import path from "node:path";
import nodemailer from "nodemailer";
import type { AppConfig } from "../../lib/config";
import type { MailAttachment } from "../../models/email.model";

/**
 * The one place mail leaves the service. SMTP_URL set: nodemailer's pooled SMTP transport
 * (a few kept-alive connections shared by every send of this node). Unset: the message is
 * built by nodemailer's stream transport and written as an .eml file to DATA_DIR/outbox,
 * which any mail client opens.
 */

interface OutgoingMail {
  id: string;
  from: string;
  to: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  attachments: MailAttachment[];
  /** Stable per mail row, so a receiver can spot a resend after a crash. */
  messageId: string;
  template: string;
}

interface Delivery {
  messageId: string;
  /** The server's final answer (`250 2.0.0 Ok: queued as …`) or where the .eml file went. */
  response: string;
}

/**
 * How a failed send should be handled:
 * - `temporary`: the server answered 4xx (greylisting, mailbox busy): retry this mail with back-off;
 * - `unavailable`: no usable server at all (refused, timeout, TLS, auth): every mail waits, none is lost;
 * - `permanent`: the server refused this mail (5xx): retrying cannot help.
 */
type FailureKind = "temporary" | "unavailable" | "permanent";

export interface ClassifiedFailure {
  kind: FailureKind;
  reason: string;
}

interface MailError extends Error {
  code?: string;
  responseCode?: number;
  response?: string;
  command?: string;
}

const UNAVAILABLE_CODES = new Set([
  "ECONNECTION",
  "ETIMEDOUT",
  "ESOCKET",
  "EDNS",
  "ETLS",
  "EAUTH",
  "ENOAUTH",
  "EPROXY",
  "ECONNREFUSED",
  "ECONNRESET",
]);

export function classifyFailure(err: unknown): ClassifiedFailure {
  const error = err as MailError;
  const reason = (error.response ?? error.message ?? String(err)).slice(0, 1000);
  if (typeof error.responseCode === "number") {
    if (error.responseCode >= 400 && error.responseCode < 500) return { kind: "temporary", reason };
    if (error.responseCode >= 500) {
      // 530/535 mean our credentials or TLS setup, not this message: wait for the operator.
      if (error.code === "EAUTH" || error.responseCode === 530)
        return { kind: "unavailable", reason };
      return { kind: "permanent", reason };
    }
  }
  if (error.code && UNAVAILABLE_CODES.has(error.code)) return { kind: "unavailable", reason };
  return { kind: "temporary", reason };
}

export interface Mailer {
  readonly mode: "smtp" | "outbox";
  send(mail: OutgoingMail): Promise<Delivery>;
  /** Resolves when the server answers (readiness); the outbox answers while its folder is writable. */
  verify(): Promise<void>;
  close(): void;
}

function toMessage(mail: OutgoingMail) {
  return {
    from: mail.from,
    to: mail.to,
    subject: mail.subject,
    html: mail.html,
    text: mail.text,
    headers: mail.headers,
    messageId: mail.messageId,
    attachments: mail.attachments.map(a => ({
      cid: a.cid,
      filename: a.filename,
      contentType: a.contentType,
      content: Buffer.from(a.base64, "base64"),
      contentDisposition: "inline" as const,
    })),
  };
}

function createSmtpMailer(smtpUrl: string): Mailer {
  const transport = nodemailer.createTransport({
    url: smtpUrl,
    pool: true,
    maxConnections: 5,
    maxMessages: 100,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 60_000,
  });
  return {
    mode: "smtp",
    async send(mail) {
      const info = await transport.sendMail(toMessage(mail));
      return { messageId: info.messageId, response: info.response };
    },
    async verify() {
      await transport.verify();
    },
    close() {
      transport.close();
    },
  };
}

function createOutboxMailer(dir: string): Mailer {
  const transport = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: "unix",
  });
  return {
    mode: "outbox",
    async send(mail) {
      const info = await transport.sendMail(toMessage(mail));
      await fs.mkdir(dir, { recursive: true });
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      const file = path.join(dir, `${stamp}-${mail.template}-${mail.id}.eml`);
      // Write then rename: whoever watches the folder never sees half a message.
      await fs.writeFile(`${file}.tmp`, info.message as Buffer);
      await fs.rename(`${file}.tmp`, file);
      return { messageId: info.messageId, response: `written to ${file}` };
    },
    async verify() {
      await fs.mkdir(dir, { recursive: true });
      await fs.access(dir, fs.constants.W_OK);
    },
    close() {
      transport.close();
    },
  };
}

export function createMailer(cfg: AppConfig): Mailer {
  return cfg.smtpUrl
    ? createSmtpMailer(cfg.smtpUrl)
    : createOutboxMailer(path.join(cfg.dataDir, "outbox"));
}
