import zlib from "node:zlib";
import type { VerifiableCredential } from "../../models/certificate.model";
import type { CertificateRow } from "./store";

/**
 * What a certificate says to machines: an Open Badges 3.0 OpenBadgeCredential (a W3C
 * Verifiable Credential, Data Model 2.0), and the revocation list of every certificate as a
 * Bitstring Status List credential. Both are signed by users (services/users/credential-signing.ts).
 */

const VC_CONTEXT = "https://www.w3.org/ns/credentials/v2";
const OPEN_BADGES_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json";
const CEFR_URL =
  "https://www.coe.int/en/web/common-european-framework-reference-languages/table-1-cefr-3.3-common-reference-levels-global-scale";

/** Bitstring Status List v1.0 §6.1: a list is at least 16 KiB (131 072 places), for herd privacy. */
const MIN_LIST_BITS = 131_072;

/** The public addresses of a deployment whose PUBLIC_URL is `publicUrl`. */
export function certificateLinks(publicUrl: string) {
  const api = `${publicUrl}/api/v1`;
  return {
    issuer: publicUrl,
    /** The app's verification page (it shows GET /certificates/:id); the PDF's QR code points here. */
    verificationPage: (id: string) => `${publicUrl}/certificates/${encodeURIComponent(id)}`,
    credential: (id: string) => `${api}/certificates/${encodeURIComponent(id)}/credential`,
    course: (courseId: string) => `${publicUrl}/courses/${encodeURIComponent(courseId)}`,
    revocationList: `${api}/credentials/status/revocation`,
  };
}

function issuerProfile(publicUrl: string): VerifiableCredential["issuer"] {
  return { id: publicUrl, type: ["Profile"], name: "Lingomesh", url: publicUrl };
}

export function openBadgeCredential(publicUrl: string, c: CertificateRow): VerifiableCredential {
  const links = certificateLinks(publicUrl);
  const listUrl = links.revocationList;
  return {
    "@context": [VC_CONTEXT, OPEN_BADGES_CONTEXT],
    id: links.credential(c.id),
    type: ["VerifiableCredential", "OpenBadgeCredential"],
    name: `${c.course_title} (${c.level})`,
    description: `Completion of the ${c.level} English course “${c.course_title}” on Lingomesh.`,
    issuer: issuerProfile(publicUrl),
    validFrom: c.issued_at.toISOString(),
    credentialSubject: {
      type: ["AchievementSubject"],
      // The learner as the verification page shows them (security.md 31): the name, no account id.
      identifier: [
        {
          type: "IdentityObject",
          identityType: "name",
          hashed: false,
          identityHash: c.learner_name,
        },
      ],
      achievement: {
        id: links.course(c.course_id),
        type: ["Achievement"],
        achievementType: "Course",
        name: c.course_title,
        description: `The ${c.level} English course “${c.course_title}”.`,
        criteria: {
          narrative:
            "Complete every lesson of the course's published version; a quiz counts as completed when an attempt scores at least 80 %.",
        },
        alignment: [
          {
            type: ["Alignment"],
            targetName: `CEFR ${c.level}`,
            targetCode: c.level,
            targetFramework: "Common European Framework of Reference for Languages",
            targetUrl: CEFR_URL,
          },
        ],
        inLanguage: "en",
      },
    },
    credentialStatus: {
      id: `${listUrl}#${c.status_index}`,
      type: "BitstringStatusListEntry",
      statusPurpose: "revocation",
      statusListIndex: String(c.status_index),
      statusListCredential: listUrl,
    },
  };
}

/**
 * The bitstring of §4: place `i` is bit `7 - i % 8` of byte `i / 8` (the first place is the
 * left-most bit), GZIP-compressed, then multibase base64url without padding ("u" prefix).
 */
export function encodeStatusList(revoked: readonly number[], highest: number): string {
  const bits = Math.max(MIN_LIST_BITS, Math.ceil((highest + 1) / MIN_LIST_BITS) * MIN_LIST_BITS);
  const list = Buffer.alloc(bits / 8);
  for (const index of revoked) list[index >> 3] |= 0x80 >> (index & 7);
  return `u${zlib.gzipSync(list).toString("base64url")}`;
}

export function revocationListCredential(
  publicUrl: string,
  encodedList: string,
  at: Date,
): VerifiableCredential {
  const listUrl = certificateLinks(publicUrl).revocationList;
  return {
    "@context": [VC_CONTEXT],
    id: listUrl,
    type: ["VerifiableCredential", "BitstringStatusListCredential"],
    issuer: issuerProfile(publicUrl),
    validFrom: at.toISOString(),
    credentialSubject: {
      id: `${listUrl}#list`,
      type: "BitstringStatusList",
      statusPurpose: "revocation",
      encodedList,
    },
  };
}
