import fs from "node:fs";
import path from "node:path";
import type { AddressInfo } from "node:net";
import PostalMime, { type Email } from "postal-mime";
import { SMTPServer } from "smtp-server";
import { waitFor } from "./nodes";

/** One delivered mail, parsed as a mail client would (postal-mime). */
export interface Mail {
  to: string[];
  subject: string;
  html: string;
  text: string;
  messageId: string;
  parsed: Email;
  header(name: string): string | undefined;
}

/** Where a system delivers its mail: an SMTP server on loopback, or the .eml outbox. */
export interface Mailbox {
  all(): Promise<Mail[]>;
  /** Waits (bounded) until `count` mails to `to` match `subject`, then returns them. */
  waitFor(to: string, subject: RegExp, count?: number, timeoutMs?: number): Promise<Mail[]>;
}

async function parse(raw: string | Buffer, envelopeTo?: string[]): Promise<Mail> {
  const parsed = await PostalMime.parse(raw);
  const header = (name: string) => parsed.headers.find(h => h.key === name.toLowerCase())?.value;
  return {
    to: envelopeTo ?? (parsed.to ?? []).map(a => ("address" in a ? String(a.address) : "")),
    subject: parsed.subject ?? "",
    html: parsed.html ?? "",
    text: parsed.text ?? "",
    messageId: parsed.messageId ?? "",
    parsed,
    header,
  };
}

function mailboxOf(list: () => Promise<Mail[]>): Mailbox {
  return {
    all: list,
    async waitFor(to, subject, count = 1, timeoutMs = 20_000) {
      return waitFor(
        `${count} mail(s) to ${to} matching ${subject}`,
        async () => {
          const found = (await list()).filter(
            m => m.to.some(a => a.toLowerCase() === to.toLowerCase()) && subject.test(m.subject),
          );
          return found.length >= count ? found : undefined;
        },
        timeoutMs,
        150,
      );
    },
  };
}

export interface SmtpCatcher extends Mailbox {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** A real SMTP server (the `smtp-server` package) on loopback that keeps what it receives. */
export async function startSmtpCatcher(): Promise<SmtpCatcher> {
  const mails: Mail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    closeTimeout: 200,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        parse(
          Buffer.concat(chunks),
          session.envelope.rcptTo.map(r => r.address),
        ).then(mail => {
          mails.push(mail);
          callback();
        }, callback);
      });
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve((server.server.address() as AddressInfo).port));
  });
  return {
    ...mailboxOf(async () => [...mails]),
    port,
    url: `smtp://127.0.0.1:${port}`,
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
  };
}

/** The embedded default's outbox: every mail an .eml file under DATA_DIR/outbox. */
export function outboxMailbox(dataDir: string): Mailbox & { files(): string[] } {
  const dir = path.join(dataDir, "outbox");
  const cache = new Map<string, Mail>();
  const files = () =>
    fs.existsSync(dir)
      ? fs
          .readdirSync(dir)
          .filter(f => f.endsWith(".eml"))
          .sort()
      : [];
  return {
    files,
    ...mailboxOf(async () => {
      const out: Mail[] = [];
      for (const file of files()) {
        let mail = cache.get(file);
        if (!mail) {
          mail = await parse(fs.readFileSync(path.join(dir, file)));
          // A file still being written parses short: read it again next time.
          if (mail.html && mail.text) cache.set(file, mail);
        }
        out.push(mail);
      }
      return out;
    }),
  };
}

/** The links of a mail's HTML part (href values, entities decoded). */
export function linksOf(mail: Mail): string[] {
  return [...mail.html.matchAll(/href="([^"]+)"/g)].map(m => m[1].replace(/&amp;/g, "&"));
}
