import crypto from "node:crypto";
import amqp from "amqplib";
import { v7 as uuidv7 } from "uuid";
import { SERVERS } from "../../../test/support/servers";
import { check, type Drill } from "../drill";
import { learnerEmail, register } from "../http";
import { mapLimit, round, waitFor } from "../util";

/** Deliveries before the dead-letter queue (DurableEvents' default maxAttempts). */
const DELIVERY_LIMIT = 6;

/**
 * Drill 7: poison events published straight into notify's queue with amqplib — one that
 * is not JSON, one well-formed envelope whose handler always fails. Both must end in
 * the DLQ (the first at once, the second after the delivery limit), while the welcome
 * mails of users registering meanwhile keep flowing.
 */
export const poisonEventDrill: Drill = {
  id: 7,
  name: "poison events in notify's queue",
  async run({ cluster, smtp, log }) {
    const queue = `${cluster.namespace}.notify`;
    const dlq = `${queue}.dlq`;
    const connection = await amqp.connect(SERVERS.rabbitmq.url, { timeout: 5000 });
    try {
      const channel = await connection.createConfirmChannel();
      const before = (await channel.checkQueue(dlq)).messageCount;
      const garbageId = crypto.randomUUID();
      const poisonId = uuidv7();
      const poison = {
        id: poisonId,
        type: "user.created",
        version: 1,
        occurredAt: new Date().toISOString(),
        producer: "chaos",
        // No userId, no email: the handler's insert fails every time.
        data: {},
      };
      const publish = (body: string, messageId: string, type: string) =>
        new Promise<void>((resolve, reject) =>
          channel.sendToQueue(
            queue,
            Buffer.from(body),
            {
              persistent: true,
              messageId,
              type,
              contentType: "application/json",
              headers: { "x-attempts": 0 },
            },
            err => (err ? reject(err) : resolve()),
          ),
        );
      log(`publishing a non-JSON message and a failing user.created envelope into ${queue}`);
      const publishedAt = performance.now();
      await publish("{not json", garbageId, "user.created");
      await publish(JSON.stringify(poison), poisonId, "user.created");

      // The rest is unaffected: users registering now get their welcome mail meanwhile.
      const emails = Array.from({ length: 20 }, (_, i) =>
        learnerEmail(`poison-${cluster.namespace}`, i),
      );
      const regStarted = performance.now();
      const statuses = await mapLimit(
        emails,
        4,
        async e => (await register(cluster.apiUrl, e)).status,
      );
      const ok = emails.filter((_, i) => statuses[i] === 201);
      const allMailed = await waitFor(() => smtp.tally(ok).missing === 0, 30_000, 250);
      const mailSeconds = round((performance.now() - regStarted) / 1000);
      const tally = smtp.tally(ok);

      log(`waiting for both to reach ${dlq} (retries back off 2+4+8+16+32 s)`);
      const deadLettered = await waitFor(
        async () => (await channel.checkQueue(dlq)).messageCount >= before + 2,
        120_000,
        1000,
      );
      const dlqSeconds = round((performance.now() - publishedAt) / 1000);
      const found = new Map<string, number>();
      // Held unacknowledged while reading (so each get returns the next one), then all
      // put back untouched: the DLQ is for operators to inspect and replay.
      for (let i = 0; i < 100; i++) {
        const msg = await channel.get(dlq, { noAck: false });
        if (msg === false) break;
        found.set(
          String(msg.properties.messageId),
          Number(msg.properties.headers?.["x-attempts"] ?? 0),
        );
      }
      channel.nackAll(true);
      const poisonAttempts = found.get(poisonId) ?? 0;
      const [row] = await cluster.sql<{ n: string }>(
        `SELECT count(*) AS n FROM notify.processed_events WHERE event_id = $1`,
        [poisonId],
      );
      await channel.close();
      return {
        checks: [
          check(
            "non-JSON message dead-lettered",
            found.has(garbageId),
            "yes",
            found.has(garbageId),
          ),
          check("failing envelope dead-lettered", found.has(poisonId), "yes", found.has(poisonId)),
          check(
            "deliveries of the failing envelope",
            poisonAttempts,
            String(DELIVERY_LIMIT),
            poisonAttempts === DELIVERY_LIMIT,
          ),
          check(
            "seconds until both were in the DLQ",
            deadLettered ? dlqSeconds : "not within 120 s",
            undefined,
            undefined,
            "s",
          ),
          check("failing envelope marked processed", Number(row.n), "0", Number(row.n) === 0),
          check("users registered meanwhile", ok.length, "20", ok.length === 20),
          check(
            "their welcome mails (exactly one each)",
            tally.exactlyOne,
            String(ok.length),
            allMailed && tally.exactlyOne === ok.length,
          ),
          check("seconds for their mails", mailSeconds, undefined, undefined, "s"),
        ],
        notes: [
          "Published with amqplib straight into notify's quorum queue; the retry delays are DurableEvents' defaults (2, 4, 8, 16, 32 s).",
        ],
        details: { dlq, dlqMessagesSeen: Object.fromEntries(found) },
      };
    } finally {
      await connection.close().catch(() => undefined);
    }
  },
};
