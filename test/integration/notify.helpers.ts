import type { AddressInfo } from "node:net";
import { ServiceBroker, type ServiceSchema } from "moleculer";
import PostalMime, { type Email } from "postal-mime";
import { SMTPServer } from "smtp-server";
import { brokerOptions } from "../../moleculer.config";
import { DbMixin } from "../../mixins/db.mixin";
import { DurableEvents, type DurableEventsMethods } from "../../mixins/durable-events.mixin";
import type { DomainEventType, DomainEvents, EventEnvelope } from "../../models/events.model";
import type { DbServiceThis } from "../../mixins/db.mixin";
import NotifyService, { type NotifySettings } from "../../services/notify.service";
import { testConfig } from "../support/isolation";

/** Shared pieces of the notify suites: a real SMTP server on loopback, a producer of durable events, notify nodes. */

export interface CaughtMail {
  envelopeTo: string[];
  raw: string;
  parsed: Email;
  header(name: string): string | undefined;
}

export interface SmtpCatcher {
  port: number;
  mails: CaughtMail[];
  /** Answers the next `count` messages with this SMTP reply code (e.g. 451: greylisted). */
  rejectNext(count: number, code: number): void;
  close(): Promise<void>;
  /** Listens again (same port) after close(). */
  restart(): Promise<void>;
  waitFor(predicate: (mails: CaughtMail[]) => boolean, timeoutMs?: number): Promise<CaughtMail[]>;
}

export async function startSmtpCatcher(port = 0): Promise<SmtpCatcher> {
  const mails: CaughtMail[] = [];
  let rejects: { count: number; code: number } = { count: 0, code: 0 };
  let server: SMTPServer;
  const make = () =>
    new SMTPServer({
      authOptional: true,
      // Pooled clients keep idle connections; close() must not wait 30 s for them.
      closeTimeout: 200,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          if (rejects.count > 0) {
            rejects.count -= 1;
            const err = new Error("Try again later") as Error & { responseCode: number };
            err.responseCode = rejects.code;
            return callback(err);
          }
          const raw = Buffer.concat(chunks).toString("utf8");
          void PostalMime.parse(raw).then(parsed => {
            mails.push({
              envelopeTo: session.envelope.rcptTo.map(r => r.address),
              raw,
              parsed,
              header: name => parsed.headers.find(h => h.key === name.toLowerCase())?.value,
            });
            callback();
          }, callback);
        });
      },
    });
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      server = make();
      server.once("error", reject);
      server.listen(p, "127.0.0.1", () => resolve((server.server.address() as AddressInfo).port));
    });
  const actualPort = await listen(port);
  return {
    port: actualPort,
    mails,
    rejectNext(count, code) {
      rejects = { count, code };
    },
    close: () => new Promise<void>(resolve => server.close(() => resolve())),
    restart: async () => {
      await listen(actualPort);
    },
    async waitFor(predicate, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (!predicate(mails)) {
        if (Date.now() > until)
          throw new Error(
            `SMTP catcher: condition not met in ${timeoutMs} ms (${mails.length} mails)`,
          );
        await new Promise(r => setTimeout(r, 50));
      }
      return mails;
    },
  };
}

type ProducerThis = DbServiceThis & DurableEventsMethods;

/** A small service that emits durable events exactly as users, content and progress do. */
export const producerSchema: ServiceSchema<
  Record<string, never>,
  Record<string, never>,
  Record<string, never>,
  ProducerThis
> = {
  name: "eventsource",
  mixins: [DbMixin({ schema: "eventsource" }), DurableEvents({ pollIntervalMs: 200 })],
  actions: {
    emit: {
      async handler(this: ProducerThis, ctx) {
        const { type, data } = ctx.params as {
          type: DomainEventType;
          data: DomainEvents[DomainEventType];
        };
        return this.withTransaction(t => this.emitDurable(type, data, { transaction: t, ctx }));
      },
    },
    /** Publishes an already emitted envelope again (same id), as a redelivery would. */
    redeliver: {
      async handler(this: ProducerThis, ctx) {
        const envelope = ctx.params as EventEnvelope;
        await this.sequelize.query(
          `INSERT INTO "eventsource".outbox (id, type, payload) VALUES (gen_random_uuid(), :type, CAST(:payload AS jsonb))`,
          { replacements: { type: envelope.type, payload: JSON.stringify(envelope) } },
        );
      },
    },
  },
};

/** Sender timings short enough for tests (production waits seconds to minutes). */
const FAST_SENDER: Partial<NotifySettings["sender"]> = {
  pollMs: 100,
  baseDelayMs: 150,
  maxDelayMs: 600,
};

export async function startBroker(
  nodeID: string,
  env: Record<string, string>,
  services: ServiceSchema[],
): Promise<ServiceBroker> {
  const cfg = testConfig({ ...env, NODE_ID: nodeID });
  const broker = new ServiceBroker({ ...brokerOptions(cfg), nodeID });
  for (const schema of services) broker.createService(schema);
  await broker.start();
  return broker;
}

export function notifySchema(
  sender: Partial<NotifySettings["sender"]> = FAST_SENDER,
): ServiceSchema {
  const base = NotifyService as unknown as ServiceSchema<NotifySettings>;
  return {
    ...base,
    settings: { ...base.settings, sender: { ...base.settings!.sender, ...sender } },
  } as ServiceSchema;
}

export async function waitUntil<T>(
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > until) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise(r => setTimeout(r, 100));
  }
}

/** href targets of an HTML part, entities decoded. */
export function linksOf(html: string): string[] {
  return [...html.matchAll(/href="([^"]+)"/g)].map(m => m[1].replace(/&amp;/g, "&"));
}
