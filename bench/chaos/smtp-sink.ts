import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

export interface ReceivedMail {
  to: string[];
  subject: string;
  at: number;
}

/**
 * A real SMTP server on a loopback port (smtp-server), standing in for the mail relay:
 * the notify node sends to it over SMTP_URL, and a drill counts the mails per recipient.
 */
export class SmtpSink {
  readonly mails: ReceivedMail[] = [];
  private readonly perRecipient = new Map<string, number>();
  private server?: SMTPServer;
  port = 0;

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      size: 10 * 1024 * 1024,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          const raw = Buffer.concat(chunks).toString("utf8");
          const header = raw.split(/\r?\n\r?\n/, 1)[0];
          const subject = /^Subject: (.*)$/im.exec(header)?.[1] ?? "";
          const to = session.envelope.rcptTo.map(rcpt => rcpt.address.toLowerCase());
          this.mails.push({ to, subject, at: Date.now() });
          for (const address of to) {
            this.perRecipient.set(address, (this.perRecipient.get(address) ?? 0) + 1);
          }
          callback();
        });
      },
    });
    const server = this.server;
    await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
    this.port = (server.server.address() as AddressInfo).port;
  }

  countFor(address: string): number {
    return this.perRecipient.get(address.toLowerCase()) ?? 0;
  }

  /** For `addresses`: how many got exactly one mail, none, or more than one. */
  tally(addresses: string[]): { exactlyOne: number; missing: number; duplicated: number } {
    let exactlyOne = 0;
    let missing = 0;
    let duplicated = 0;
    for (const address of addresses) {
      const count = this.countFor(address);
      if (count === 1) exactlyOne++;
      else if (count === 0) missing++;
      else duplicated++;
    }
    return { exactlyOne, missing, duplicated };
  }

  /** When the last mail to any of `addresses` arrived (ms epoch), 0 if none did. */
  lastArrivalFor(addresses: Set<string>): number {
    let last = 0;
    for (const mail of this.mails) {
      if (mail.to.some(address => addresses.has(address))) last = Math.max(last, mail.at);
    }
    return last;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    await new Promise<void>(resolve => server.close(() => resolve()));
  }
}
