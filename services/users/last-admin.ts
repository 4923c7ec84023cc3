import { Op, type Transaction } from "sequelize";
import type { UsersDeps } from "./deps";
import { lastAdmin } from "./errors";

/**
 * Refuses (409) to leave the deployment without an active admin: `userId` may stop being one
 * (demoted, suspended, erased) only while another active admin remains. Every active admin row
 * is locked, in id order, so two admins removing each other at once are serialised and the
 * second finds itself the last.
 */
export async function keepAnotherAdmin(
  deps: UsersDeps,
  t: Transaction,
  userId: string,
): Promise<void> {
  const admins = await deps.User.findAll({
    attributes: ["id"],
    where: { roles: { [Op.contains]: ["admin"] }, status: "active" },
    order: [["id", "ASC"]],
    lock: t.LOCK.UPDATE,
    transaction: t,
  });
  const ids = admins.map(row => row.get("id"));
  if (ids.includes(userId) && ids.length === 1) throw lastAdmin();
}
