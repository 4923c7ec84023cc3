import type { Transaction } from "sequelize";
import { exec, one, rows, S, type Db } from "./sql";

/** Certificates: one per learner and course, and the places of the revocation status list. */

export interface CertificateRow {
  id: string;
  user_id: string;
  course_id: string;
  learner_name: string;
  course_title: string;
  level: string;
  issued_at: Date;
  status_index: number;
  revoked_at: Date | null;
  revoked_reason: string | null;
}

/**
 * The learner's certificate of the course: a new one with the learner's name and the course's
 * title and level as progress knows them now, or the one issued before (the unique key on
 * learner and course makes a second issue a no-op, however the calls interleave).
 */
export async function issueCertificate(
  db: Db,
  c: { id: string; userId: string; courseId: string; at: Date },
  t: Transaction,
): Promise<CertificateRow> {
  const issued = await one<CertificateRow>(
    db,
    `INSERT INTO ${S}.certificates (id, user_id, course_id, learner_name, course_title, level, issued_at)
     SELECT :id, :userId, :courseId, COALESCE(l.name, ''), COALESCE(c.title, ''), COALESCE(c.level, ''), :at
     FROM (SELECT 1) one
     LEFT JOIN ${S}.learners l ON l.user_id = :userId
     LEFT JOIN ${S}.courses c ON c.course_id = :courseId
     ON CONFLICT (user_id, course_id) DO NOTHING RETURNING *`,
    c,
    t,
  );
  if (issued) return issued;
  const existing = await certificateOf(db, c.userId, c.courseId, t);
  if (!existing)
    throw new Error(`certificate of ${c.userId} for ${c.courseId} neither issued nor found`);
  return existing;
}

async function certificateOf(
  db: Db,
  userId: string,
  courseId: string,
  t: Transaction,
): Promise<CertificateRow | undefined> {
  return one<CertificateRow>(
    db,
    `SELECT * FROM ${S}.certificates WHERE user_id = :userId AND course_id = :courseId`,
    { userId, courseId },
    t,
  );
}

export async function findCertificate(
  db: Db,
  id: string,
  t?: Transaction,
): Promise<CertificateRow | undefined> {
  return one<CertificateRow>(db, `SELECT * FROM ${S}.certificates WHERE id = :id`, { id }, t);
}

export async function certificatesOfLearner(db: Db, userId: string): Promise<CertificateRow[]> {
  return rows<CertificateRow>(
    db,
    `SELECT * FROM ${S}.certificates WHERE user_id = :userId ORDER BY issued_at DESC, id`,
    { userId },
  );
}

/** Revokes once: the first reason and time stay; answers the certificate, undefined when there is none. */
export async function revokeCertificate(
  db: Db,
  r: { id: string; reason: string; at: Date },
  t: Transaction,
): Promise<CertificateRow | undefined> {
  const row = await one<CertificateRow>(
    db,
    `UPDATE ${S}.certificates SET revoked_at = COALESCE(revoked_at, :at),
       revoked_reason = COALESCE(revoked_reason, :reason)
     WHERE id = :id RETURNING *`,
    r,
    t,
  );
  if (row) await markStatusRevoked(db, [row.status_index], r.at, t);
  return row;
}

async function markStatusRevoked(
  db: Db,
  indexes: number[],
  at: Date,
  t: Transaction,
): Promise<void> {
  if (indexes.length === 0) return;
  await exec(
    db,
    `INSERT INTO ${S}.revoked_status_entries (status_index, revoked_at)
     SELECT unnest(ARRAY[:indexes]::integer[]), :at ON CONFLICT (status_index) DO NOTHING`,
    { indexes, at },
    t,
  );
}

/**
 * An erased learner's certificates go; their places in the status list are revoked first, so a
 * credential already handed out no longer verifies as valid.
 */
export async function eraseCertificates(db: Db, userId: string, t: Transaction): Promise<void> {
  const held = await rows<{ status_index: number }>(
    db,
    `SELECT status_index FROM ${S}.certificates WHERE user_id = :userId`,
    { userId },
    t,
  );
  await markStatusRevoked(
    db,
    held.map(row => row.status_index),
    new Date(),
    t,
  );
  await exec(db, `DELETE FROM ${S}.certificates WHERE user_id = :userId`, { userId }, t);
}

/** The revoked places of the status list, and the highest place handed out so far (-1: none). */
export async function revokedStatusIndexes(
  db: Db,
): Promise<{ revoked: number[]; highest: number }> {
  const found = await one<{ revoked: number[] | null; highest: string | null }>(
    db,
    `SELECT (SELECT array_agg(status_index ORDER BY status_index) FROM ${S}.revoked_status_entries) AS revoked,
            (SELECT MAX(status_index) FROM ${S}.certificates) AS highest`,
  );
  const revoked = found?.revoked ?? [];
  const highest = Math.max(Number(found?.highest ?? -1), ...revoked, -1);
  return { revoked, highest };
}
