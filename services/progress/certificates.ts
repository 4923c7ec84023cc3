import type { Context } from "moleculer";
import type { Transaction } from "sequelize";
import type { PublishedReadCache } from "../../lib/published-read-cache";
import type {
  CertificateStatus,
  CertificateSummary,
  CertificateVerification,
  VerifiableCredential,
} from "../../models/certificate.model";
import {
  certificateLinks,
  encodeStatusList,
  openBadgeCredential,
  revocationListCredential,
} from "./credentials";
import { certificateNotFound } from "./errors";
import * as store from "./store";

/**
 * Certificates once issued (store.issueCertificate runs in the transaction that completes the
 * course, services/progress/awards.ts): the learner's list, the public verification data, the
 * printable PDF, the signed credential, revocation and the revocation list.
 */

export interface CertificateDeps {
  db: store.Db;
  withTransaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  now: () => Date;
  publicUrl: string;
  /**
   * This node's recent PDFs by certificate and status: a page costs ~100 ms of CPU to draw and
   * the route is public, while what it shows changes only with the status (part of the key).
   */
  printed?: PublishedReadCache;
  /** The compact JWS of `credential`, signed by users with the access-token key. */
  sign: (credential: VerifiableCredential, caller?: Pick<Context, "requestID">) => Promise<string>;
  /** Tells every gateway that certificates changed (committed already): their copies go. */
  certificatesChanged: (caller?: Pick<Context, "requestID">) => Promise<void>;
}

const statusOf = (row: store.CertificateRow): CertificateStatus =>
  row.revoked_at ? "revoked" : "valid";

function verificationOf(row: store.CertificateRow): CertificateVerification {
  return {
    id: row.id,
    learnerName: row.learner_name,
    courseTitle: row.course_title,
    level: row.level,
    issuedAt: row.issued_at.toISOString(),
    status: statusOf(row),
  };
}

async function certificate(deps: CertificateDeps, id: string): Promise<store.CertificateRow> {
  const row = await store.findCertificate(deps.db, id);
  if (!row) throw certificateNotFound(id);
  return row;
}

export async function myCertificates(
  deps: CertificateDeps,
  userId: string,
): Promise<CertificateSummary[]> {
  const held = await store.certificatesOfLearner(deps.db, userId);
  return held.map(row => ({
    id: row.id,
    courseId: row.course_id,
    courseTitle: row.course_title,
    level: row.level,
    issuedAt: row.issued_at.toISOString(),
  }));
}

export async function verifyCertificate(
  deps: CertificateDeps,
  id: string,
): Promise<CertificateVerification> {
  return verificationOf(await certificate(deps, id));
}

export async function printCertificate(deps: CertificateDeps, id: string): Promise<Buffer> {
  const row = await certificate(deps, id);
  const key = `${row.id}:${statusOf(row)}`;
  const held = deps.printed?.get(key);
  if (held instanceof Buffer) return held;
  const generation = deps.printed?.generation ?? 0;
  // pdf-lib, fontkit and qrcode load with the first certificate printed, not with every node.
  const { certificatePdf } = await import("./certificate-pdf");
  const pdf = await certificatePdf({
    learnerName: row.learner_name,
    courseTitle: row.course_title,
    level: row.level,
    issuedAt: row.issued_at,
    verificationUrl: certificateLinks(deps.publicUrl).verificationPage(row.id),
    status: statusOf(row),
  });
  deps.printed?.set(key, pdf, generation);
  return pdf;
}

export async function revokeCertificate(
  deps: CertificateDeps,
  input: { id: string; reason: string },
  caller?: Pick<Context, "requestID">,
): Promise<CertificateVerification> {
  const at = deps.now();
  const row = await deps.withTransaction(t =>
    store.revokeCertificate(deps.db, { id: input.id, reason: input.reason, at }, t),
  );
  if (!row) throw certificateNotFound(input.id);
  // Before the answer: whoever verifies after the admin saw "revoked" sees it too.
  await deps.certificatesChanged(caller);
  return verificationOf(row);
}

export async function signedCredential(
  deps: CertificateDeps,
  id: string,
  caller?: Pick<Context, "requestID">,
): Promise<string> {
  const row = await certificate(deps, id);
  return deps.sign(openBadgeCredential(deps.publicUrl, row), caller);
}

export async function signedRevocationList(
  deps: CertificateDeps,
  caller?: Pick<Context, "requestID">,
): Promise<string> {
  const { revoked, highest } = await store.revokedStatusIndexes(deps.db);
  const list = revocationListCredential(
    deps.publicUrl,
    encodeStatusList(revoked, highest),
    deps.now(),
  );
  return deps.sign(list, caller);
}
