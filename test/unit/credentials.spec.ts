import crypto from "node:crypto";
import zlib from "node:zlib";
import { createLocalJWKSet, jwtVerify } from "jose";
import { AccessTokenVerifier } from "../../lib/auth/verify-access-token";
import { testConfig } from "../support/isolation";
import { encodeStatusList, openBadgeCredential } from "../../services/progress/credentials";
import { signCredential } from "../../services/users/credential-signing";
import { loadSigningKeys } from "../../services/users/tokens";

/** The certificate credential as users signs it, and the revocation bitstring, without a broker. */

const PUBLIC_URL = "https://learn.example.test";

async function signer() {
  const pair = crypto.generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const cfg = testConfig({
    PUBLIC_URL,
    JWT_PRIVATE_KEY: pair.privateKey,
    JWT_PUBLIC_KEY: pair.publicKey,
  });
  return { cfg, keys: await loadSigningKeys(cfg) };
}

const certificate = {
  id: "0190a4f6-0000-7000-8000-00000000c001",
  user_id: "user-1",
  course_id: "course-1",
  learner_name: "Ana Lima",
  course_title: "At the café",
  level: "A2",
  issued_at: new Date("2026-11-30T10:00:00.000Z"),
  status_index: 42,
  revoked_at: null,
  revoked_reason: null,
};

describe("certificate credentials", () => {
  test("when users signs a certificate's credential, then it verifies against the JWKS with the credential as payload and its claims derived from it", async () => {
    const deps = await signer();
    const credential = openBadgeCredential(PUBLIC_URL, certificate);
    const jws = await signCredential(deps, credential);
    const { payload, protectedHeader } = await jwtVerify(jws, createLocalJWKSet(deps.keys.jwks), {
      typ: "JWT",
      issuer: PUBLIC_URL,
    });
    expect(protectedHeader).toEqual({ alg: "EdDSA", kid: deps.keys.kid, typ: "JWT" });
    expect(payload).toMatchObject({
      ...credential,
      jti: credential.id,
      nbf: Date.parse("2026-11-30T10:00:00.000Z") / 1000,
    });
    expect(payload.aud).toBeUndefined();
  });

  test("when a credential sets a token's claims or names another issuer, then users refuses to sign it", async () => {
    const deps = await signer();
    const credential = openBadgeCredential(PUBLIC_URL, certificate);
    for (const forged of [
      { ...credential, aud: "lingomesh-api" },
      { ...credential, roles: ["admin"] },
      { ...credential, issuer: { ...credential.issuer, id: "https://evil.test" } },
      { ...credential, type: ["OpenBadgeCredential"] },
    ]) {
      await expect(signCredential(deps, forged)).rejects.toMatchObject({
        code: 422,
        type: "VALIDATION_ERROR",
      });
    }
  });

  test("when a signed credential is presented as an access token, then the verifier refuses it", async () => {
    const deps = await signer();
    const jws = await signCredential(deps, openBadgeCredential(PUBLIC_URL, certificate));
    const verifier = new AccessTokenVerifier({
      publicUrl: PUBLIC_URL,
      fetchJwks: async () => deps.keys.jwks,
    });
    await expect(verifier.verify(jws)).rejects.toMatchObject({ name: "InvalidTokenError" });
  });

  test("when places are revoked, then the bitstring has exactly those bits set, first place left-most, at least 16 KiB", () => {
    const encoded = encodeStatusList([0, 9, 131_071], 131_071);
    expect(encoded.startsWith("u")).toBe(true);
    const list = zlib.gunzipSync(Buffer.from(encoded.slice(1), "base64url"));
    expect(list.length).toBe(16_384);
    expect(list[0]).toBe(0b1000_0000);
    expect(list[1]).toBe(0b0100_0000);
    expect(list[16_383]).toBe(0b0000_0001);
    expect(list.subarray(2, 16_383).every(byte => byte === 0)).toBe(true);
    // More places than one list holds: the list grows by whole lists.
    const grown = zlib.gunzipSync(Buffer.from(encodeStatusList([], 131_072).slice(1), "base64url"));
    expect(grown.length).toBe(32_768);
  });
});
