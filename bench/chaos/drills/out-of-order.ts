import amqp from "amqplib";
import { v7 as uuidv7 } from "uuid";
import { SERVERS } from "../../../test/support/servers";
import { check, type Drill } from "../drill";
import { waitFor } from "../util";

const USERS = 100;

interface Sent {
  id: string;
  type: "user.created" | "user.updated" | "user.deleted";
  data: Record<string, unknown>;
}

/** A user's history: created, two renames, and (every other user) deleted — each with its sequence. */
function historyOf(userId: string, index: number): Sent[] {
  const events: Sent[] = [
    {
      id: uuidv7(),
      type: "user.created",
      data: {
        userId,
        email: `ooo-${userId.slice(-8)}@example.test`,
        name: "Name 1",
        timezone: "UTC",
        verificationToken: `vt-${userId}`,
        sequence: 1,
      },
    },
    {
      id: uuidv7(),
      type: "user.updated",
      data: { userId, name: "Name 2", timezone: "UTC", sequence: 2 },
    },
    {
      id: uuidv7(),
      type: "user.updated",
      data: { userId, name: "Name 3", timezone: "Asia/Tokyo", sequence: 3 },
    },
  ];
  if (index % 2 === 0)
    events.push({ id: uuidv7(), type: "user.deleted", data: { userId, sequence: 4 } });
  return events;
}

/** A fixed, varied permutation per user (no randomness: a rerun reorders the same way). */
function reorder<T>(items: T[], index: number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = (index * 7 + i * 3) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/**
 * Drill 12: each user's created / updated / updated / deleted published straight onto the
 * cluster's event exchange in a shuffled order. Notify and progress must end with each
 * user's last state: the newest name and time zone, or nothing at all (and no welcome
 * mail queued) for a deleted user, whatever came after the deletion.
 */
export const outOfOrderDrill: Drill = {
  id: 12,
  name: "out-of-order created/updated/deleted per user",
  async run({ cluster, log }) {
    const exchange = `${cluster.namespace}.events`;
    const users = Array.from({ length: USERS }, () => uuidv7());
    const histories = users.map(historyOf);
    const order = histories.map(reorder);
    const outOfOrder = order.filter((events, i) =>
      events.some((e, k) => e !== histories[i][k]),
    ).length;
    const connection = await amqp.connect(SERVERS.rabbitmq.url, { timeout: 5000 });
    const all = order.flat();
    try {
      const channel = await connection.createConfirmChannel();
      log(
        `publishing ${all.length} events of ${USERS} users onto ${exchange}, each user's shuffled`,
      );
      for (const event of all) {
        const envelope = {
          id: event.id,
          type: event.type,
          version: 1,
          occurredAt: new Date().toISOString(),
          producer: "chaos",
          data: event.data,
        };
        channel.publish(exchange, event.type, Buffer.from(JSON.stringify(envelope)), {
          persistent: true,
          messageId: event.id,
          type: event.type,
          contentType: "application/json",
          headers: { "x-attempts": 0 },
        });
      }
      await channel.waitForConfirms();
      await channel.close();
    } finally {
      await connection.close().catch(() => undefined);
    }
    const ids = all.map(e => e.id);
    const handledBy = async (schema: string) =>
      Number(
        (
          await cluster.sql<{ n: string }>(
            `SELECT count(*) AS n FROM ${schema}.processed_events WHERE event_id = ANY($1::uuid[])`,
            [ids],
          )
        )[0].n,
      );
    const done = await waitFor(
      async () =>
        (await handledBy("notify")) === ids.length && (await handledBy("progress")) === ids.length,
      120_000,
      500,
    );
    const deleted = users.filter((_, i) => i % 2 === 0);
    const kept = users.filter((_, i) => i % 2 === 1);
    const final = async (schema: "notify" | "progress") => {
      const table = schema === "notify" ? "recipients" : "learners";
      const rows = await cluster.sql<{ user_id: string; name: string; timezone: string }>(
        `SELECT user_id, name, timezone FROM ${schema}.${table} WHERE user_id = ANY($1::text[])`,
        [users],
      );
      const byUser = new Map(rows.map(r => [r.user_id, r]));
      return {
        keptRight: kept.filter(
          u => byUser.get(u)?.name === "Name 3" && byUser.get(u)?.timezone === "Asia/Tokyo",
        ).length,
        deletedBack: deleted.filter(u => byUser.has(u)).length,
      };
    };
    const notify = await final("notify");
    const progress = await final("progress");
    const [mails] = await cluster.sql<{ n: string }>(
      `SELECT count(*) AS n FROM notify.emails WHERE user_id = ANY($1::text[])`,
      [deleted],
    );
    const mailsOfDeleted = Number(mails.n);
    return {
      checks: [
        check("events published", all.length),
        check("users whose events were delivered out of order", outOfOrder),
        check("all events handled by notify and progress", done, "yes", done),
        check(
          "notify: kept users with the last name and zone",
          notify.keptRight,
          String(kept.length),
          notify.keptRight === kept.length,
        ),
        check(
          "progress: kept users with the last name and zone",
          progress.keptRight,
          String(kept.length),
          progress.keptRight === kept.length,
        ),
        check("deleted users back in notify", notify.deletedBack, "0", notify.deletedBack === 0),
        check(
          "deleted users back in progress",
          progress.deletedBack,
          "0",
          progress.deletedBack === 0,
        ),
        check("mails queued for deleted users", mailsOfDeleted, "0", mailsOfDeleted === 0),
      ],
      notes: [
        "Published with amqplib onto the cluster's topic exchange; each event carries the user's sequence as users writes it.",
      ],
      details: { users: USERS, deleted: deleted.length },
    };
  },
};
