import type { Context } from "moleculer";
import type { Transaction } from "sequelize";
import type { DomainEvents } from "../../models/events.model";
import type { UsersDeps } from "./deps";

type UserEventType = Extract<keyof DomainEvents, `user.${string}`>;

/**
 * Emits a user.* event with the user's next `sequence` (events.md: consumers ignore an
 * event older than one they applied). The counter lives on the user row and is bumped in
 * the event's own transaction, so the row lock orders a user's events as they committed.
 */
export async function emitUserEvent<K extends UserEventType>(
  deps: Pick<UsersDeps, "User" | "emitDurable">,
  type: K,
  data: Omit<DomainEvents[K], "sequence">,
  opts: { transaction: Transaction; ctx?: Pick<Context, "requestID"> },
): Promise<void> {
  const sequelize = deps.User.sequelize;
  if (!sequelize) throw new Error("users model is not bound to a database");
  const table = deps.User.getTableName();
  const qualified =
    typeof table === "string" ? `"${table}"` : `"${table.schema}"."${table.tableName}"`;
  const [rows] = (await sequelize.query(
    `UPDATE ${qualified} SET event_sequence = event_sequence + 1 WHERE id = :userId RETURNING event_sequence`,
    { replacements: { userId: data.userId }, transaction: opts.transaction },
  )) as [Array<{ event_sequence: string }>, unknown];
  if (!rows[0]) throw new Error(`${type}: user ${data.userId} has no row to version the event by`);
  const sequence = Number(rows[0].event_sequence);
  await deps.emitDurable(type, { ...data, sequence } as DomainEvents[K], opts);
}
