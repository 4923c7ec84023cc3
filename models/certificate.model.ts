import { idRule } from "../lib/params";

/** The certificate rows of shared/design/api.md (Learning, continued). */

/** One row of GET /me/certificates. */
export interface CertificateSummary {
  id: string;
  courseId: string;
  courseTitle: string;
  /** The course's CEFR level when it was issued (A1 … C2). */
  level: string;
  issuedAt: string;
}

export type CertificateStatus = "valid" | "revoked";

/**
 * The Moleculer event progress broadcasts to the `api` group once a change to certificates
 * has committed (a revocation, a learner's erasure), before its answer leaves: every gateway
 * drops the verification answers it holds (GET /certificates/:id, answered there for
 * anonymous callers).
 */
export const CERTIFICATES_CHANGED_EVENT = "cache.clean.certificates";

/** GET /certificates/:id: what anyone holding the link may see (security.md 31). */
export interface CertificateVerification {
  id: string;
  learnerName: string;
  courseTitle: string;
  level: string;
  issuedAt: string;
  status: CertificateStatus;
}

/** POST /certificates/:id/revoke */
export const revokeParams = {
  $$strict: true,
  id: idRule,
  reason: { type: "string", min: 1, max: 500, trim: true },
} as const;

/** What users.signCredential is asked to sign: an Open Badges 3.0 credential, or a status list credential. */
export interface CredentialToSign {
  credential: VerifiableCredential;
}

/** The members of a W3C Verifiable Credential (Data Model 2.0) that the signer reads. */
export interface VerifiableCredential {
  "@context": string[];
  id: string;
  type: string[];
  issuer: { id: string; type: string[]; name: string; url?: string };
  validFrom: string;
  credentialSubject: { id?: string; type: string[] | string } & Record<string, unknown>;
  [member: string]: unknown;
}
