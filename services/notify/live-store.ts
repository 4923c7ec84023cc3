import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";
import { LIVE_REPLAY_WINDOW_MS, type LiveMessage } from "../../models/live.model";

/**
 * The live messages of the last 24 h (notify.live_messages): written in the transaction of the
 * event that caused them, read back by a reconnecting socket's `?since=<id>`.
 */

interface LiveRow {
  id: string;
  type: LiveMessage["type"];
  data: Record<string, unknown>;
  at: Date;
}

/** A replay is bounded: a client that missed more reloads its lists instead. */
const REPLAY_LIMIT = 500;

export async function addLiveMessage(
  sequelize: Sequelize,
  schema: string,
  userId: string,
  message: LiveMessage,
  t: Transaction,
): Promise<void> {
  await execute(
    sequelize,
    `INSERT INTO "${schema}".live_messages (id, user_id, type, data, at)
     VALUES (:id, :userId, :type, CAST(:data AS jsonb), :at) ON CONFLICT (id) DO NOTHING`,
    {
      replacements: { ...message, userId, data: JSON.stringify(message.data) },
      transaction: t,
    },
  );
}

/** The user's messages after `sinceId` (a UUID v7 sorts by time), oldest first, within the window. */
export async function liveMessagesSince(
  sequelize: Sequelize,
  schema: string,
  userId: string,
  sinceId: string,
  now = new Date(),
): Promise<LiveMessage[]> {
  const rows = await selectRows<LiveRow>(
    sequelize,
    `SELECT id, type, data, at FROM "${schema}".live_messages
      WHERE user_id = :userId AND id > :sinceId AND at > :oldest
      ORDER BY id LIMIT ${REPLAY_LIMIT}`,
    {
      replacements: {
        userId,
        sinceId,
        oldest: new Date(now.getTime() - LIVE_REPLAY_WINDOW_MS),
      },
    },
  );
  return rows.map(row => ({
    id: row.id,
    type: row.type,
    at: new Date(row.at).toISOString(),
    data: row.data,
  }));
}

/** Drops what no replay can ask for any more; answers how many rows went. */
export function pruneLiveMessages(
  sequelize: Sequelize,
  schema: string,
  now = new Date(),
): Promise<number> {
  return execute(sequelize, `DELETE FROM "${schema}".live_messages WHERE at <= :oldest`, {
    replacements: { oldest: new Date(now.getTime() - LIVE_REPLAY_WINDOW_MS) },
  });
}
