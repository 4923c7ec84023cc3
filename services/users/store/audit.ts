import { v7 as uuidv7 } from "uuid";
import { execute, selectRows } from "../../../lib/db/sql";
import { tableOf, type UsersDb } from "./db";

/** The admin audit log (GET /admin/audit): one row per admin action, newest first. */

export interface AuditEntry {
  id: string;
  actorId: string | null;
  action: string;
  targetId: string | null;
  detail: Record<string, unknown>;
  ip: string | null;
  requestId: string | null;
  at: string;
}

export async function recordAudit(
  db: UsersDb,
  entry: Omit<AuditEntry, "id" | "at">,
): Promise<void> {
  await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "admin_audit")} (id, actor_id, action, target_id, detail, ip, request_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    {
      bind: [
        uuidv7(),
        entry.actorId,
        entry.action,
        entry.targetId,
        JSON.stringify(entry.detail),
        entry.ip,
        entry.requestId,
      ],
    },
  );
}

export async function auditPage(
  db: UsersDb,
  page: number,
  pageSize: number,
): Promise<{ rows: AuditEntry[]; total: number }> {
  const [rows, [{ total }]] = await Promise.all([
    selectRows<AuditEntry & { at: Date }>(
      db.sequelize,
      `SELECT id, actor_id AS "actorId", action, target_id AS "targetId", detail, ip,
         request_id AS "requestId", at
       FROM ${tableOf(db, "admin_audit")} ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2`,
      { bind: [pageSize, (page - 1) * pageSize] },
    ),
    selectRows<{ total: string }>(
      db.sequelize,
      `SELECT count(*) AS total FROM ${tableOf(db, "admin_audit")}`,
    ),
  ]);
  return {
    rows: rows.map(row => ({ ...row, at: new Date(row.at).toISOString() })),
    total: Number(total),
  };
}
