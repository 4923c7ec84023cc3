import { SignJWT } from "jose";
import { validationError } from "../../lib/errors";
import { ACCESS_TOKEN_ALGORITHM, tokenIssuer } from "../../lib/auth/token-claims";
import type { VerifiableCredential } from "../../models/certificate.model";
import type { UsersDeps } from "./deps";

/**
 * Verifiable credentials (Open Badges 3.0 §8.2, VC-JWT) signed with the access-token key, so
 * anyone verifies them against /auth/jwks. The key stays here: other services send the
 * credential over the broker and get the compact JWS back.
 *
 * A credential can never pass for an access token: its `typ` is "JWT" (access tokens are
 * "at+jwt"), it carries no `aud`, and the registered claims are derived here from the
 * credential, never taken from the caller.
 */

const CREDENTIAL_JWT_TYPE = "JWT";

/** Members a caller may not set: they are the JWT's claims (and the access token's own). */
const RESERVED_MEMBERS = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "roles", "sid"];

export async function signCredential(
  deps: Pick<UsersDeps, "keys" | "cfg">,
  credential: VerifiableCredential,
): Promise<string> {
  const problems = [
    ...RESERVED_MEMBERS.filter(name => name in credential).map(name => ({
      type: "forbidden",
      field: `credential.${name}`,
      message: `'${name}' is set by the signer`,
    })),
    ...(credential.type.includes("VerifiableCredential")
      ? []
      : [{ type: "invalid", field: "credential.type", message: "not a VerifiableCredential" }]),
    ...(credential.issuer.id === tokenIssuer(deps.cfg.publicUrl)
      ? []
      : [{ type: "invalid", field: "credential.issuer.id", message: "not this deployment" }]),
  ];
  if (problems.length > 0) throw validationError(problems);
  const jwt = new SignJWT({ ...credential })
    .setProtectedHeader({
      alg: ACCESS_TOKEN_ALGORITHM,
      kid: deps.keys.kid,
      typ: CREDENTIAL_JWT_TYPE,
    })
    .setIssuer(credential.issuer.id)
    .setJti(credential.id)
    .setNotBefore(Math.floor(Date.parse(credential.validFrom) / 1000));
  const subject = credential.credentialSubject.id;
  if (typeof subject === "string") jwt.setSubject(subject);
  return jwt.sign(deps.keys.privateKey);
}
