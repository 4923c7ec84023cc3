import type { RouteSpec } from "../route-table";

/**
 * The certificate rows of shared/design/api.md (Learning, continued), answered by the progress
 * service; the credentials are signed by users with the access-token key.
 */
export const certificatesRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/me/certificates",
    action: "progress.myCertificates",
    summary: "My certificates, one per completed course, newest first",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/certificates/:id",
    action: "progress.certificate",
    summary:
      "A certificate's public verification data: learner's name, course, CEFR level, date and whether it is valid or revoked",
    tag: "Learning",
  },
  {
    method: "GET",
    path: "/certificates/:id/pdf",
    action: "progress.certificatePdf",
    summary: "The certificate as a PDF made on the server, with a QR code of its verification page",
    tag: "Learning",
    kind: "binary",
  },
  {
    method: "GET",
    path: "/certificates/:id/credential",
    action: "progress.certificateCredential",
    summary:
      "The certificate as an Open Badges 3.0 credential: a compact JWS (application/vc+jwt) signed with the access-token key, whose kid is in /auth/jwks",
    tag: "Learning",
    kind: "binary",
  },
  {
    method: "GET",
    path: "/credentials/status/revocation",
    action: "progress.revocationList",
    summary:
      "The revocation list of every credential (Bitstring Status List), signed as the credentials are",
    tag: "Learning",
    kind: "binary",
  },
  {
    method: "POST",
    path: "/certificates/:id/revoke",
    action: "progress.revokeCertificate",
    summary: "Admin: revoke a certificate ({reason}); its credential shows as revoked in the list",
    tag: "Learning",
  },
];
