/**
 * The one definition of what an access token says, shared by the users service (which
 * signs) and every verifier (the gateway, any node): Ed25519 (EdDSA) JWTs per RFC 9068.
 */
export const ACCESS_TOKEN_ALGORITHM = "EdDSA";
/** The JOSE `typ` header of access tokens; other token kinds use other values and are refused. */
export const ACCESS_TOKEN_TYPE = "at+jwt";
export const TOKEN_AUDIENCE = "lingomesh-api";
/** Issuer is the public URL of the deployment (PUBLIC_URL), so tokens of another deployment are refused. */
export function tokenIssuer(publicUrl: string): string {
  return publicUrl;
}
export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
/** Leeway for exp/nbf between nodes' clocks (security.md line 6: at most 60 s). */
export const CLOCK_TOLERANCE_SECONDS = 30;
