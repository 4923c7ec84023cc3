import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { createLocalJWKSet, jwtVerify } from "jose";
import { testConfig, tempDataDir } from "../support/isolation";
import { sessionAlive } from "../../services/users/sessions";
import {
  digest,
  loadSigningKeys,
  newOpaqueToken,
  signAccessToken,
} from "../../services/users/tokens";
import type { SessionRow } from "../../models/session.model";

function pair() {
  return crypto.generateKeyPairSync("ed25519", {
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
}

describe("signing keys, access tokens and session lifetimes", () => {
  test("when no key is configured on a single node, then one is generated once under DATA_DIR/keys and reused", async () => {
    const dir = tempDataDir();
    const first = await loadSigningKeys(testConfig({ DATA_DIR: dir }));
    const second = await loadSigningKeys(testConfig({ DATA_DIR: dir }));
    expect(second.kid).toBe(first.kid);
    expect(fs.statSync(path.join(dir, "keys", "jwt-private.pem")).mode & 0o777).toBe(0o600);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("when cluster mode has no key, then loading refuses with the variable names", async () => {
    await expect(
      loadSigningKeys(testConfig({ TRANSPORTER: "nats://127.0.0.1:4222" })),
    ).rejects.toThrow(/JWT_PRIVATE_KEY and JWT_PUBLIC_KEY/);
  });

  test("when the public key does not match the private key, then loading refuses", async () => {
    const a = pair();
    const b = pair();
    await expect(
      loadSigningKeys(testConfig({ JWT_PRIVATE_KEY: a.privateKey, JWT_PUBLIC_KEY: b.publicKey })),
    ).rejects.toThrow(/not the public half/);
  });

  test("when the key was rotated, then the JWKS still holds the previous public key and its tokens verify until they expire", async () => {
    const old = pair();
    const current = pair();
    const before = testConfig({ JWT_PRIVATE_KEY: old.privateKey, JWT_PUBLIC_KEY: old.publicKey });
    const oldKeys = await loadSigningKeys(before);
    const { accessToken } = await signAccessToken(oldKeys, before, {
      userId: "u1",
      roles: ["learner"],
      sessionId: "s1",
    });
    const after = testConfig({
      JWT_PRIVATE_KEY: current.privateKey,
      JWT_PUBLIC_KEY: current.publicKey,
      JWT_PREVIOUS_PUBLIC_KEY: old.publicKey,
    });
    const keys = await loadSigningKeys(after);
    expect(keys.jwks.keys.map(key => key.kid)).toEqual([keys.kid, oldKeys.kid]);
    expect(JSON.stringify(keys.jwks)).not.toMatch(/"d":/);
    const { payload, protectedHeader } = await jwtVerify(
      accessToken,
      createLocalJWKSet(keys.jwks),
      {
        algorithms: ["EdDSA"],
        typ: "at+jwt",
        audience: "lingomesh-api",
        issuer: after.publicUrl,
      },
    );
    expect(protectedHeader.kid).toBe(oldKeys.kid);
    expect(payload).toMatchObject({ sub: "u1", roles: ["learner"], sid: "s1" });
    expect((payload.exp as number) - (payload.nbf as number)).toBe(900);
    // iat to the millisecond, within the second nbf names (revocation compares it with a cut-off).
    expect((payload.iat as number) - (payload.nbf as number)).toBeGreaterThanOrEqual(0);
    expect((payload.iat as number) - (payload.nbf as number)).toBeLessThan(1);
  });

  test("when opaque tokens are made, then they carry 256 random bits and are stored as SHA-256", () => {
    const token = newOpaqueToken();
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(newOpaqueToken()).not.toBe(token);
    expect(digest(token)).toBe(crypto.createHash("sha256").update(token).digest("hex"));
  });

  test("when SESSION_IDLE_DAYS and SESSION_ABSOLUTE_DAYS are set, then a session ends at whichever comes first", () => {
    const cfg = testConfig({ SESSION_IDLE_DAYS: "2", SESSION_ABSOLUTE_DAYS: "5" });
    const day = 86_400_000;
    const now = Date.now();
    const session = (lastUsed: number, expires: number): SessionRow => ({
      id: "s",
      userId: "u",
      createdAt: new Date(now - 4 * day),
      lastUsedAt: new Date(lastUsed),
      expiresAt: new Date(expires),
      userAgent: null,
      ip: null,
      revokedAt: null,
      revokedReason: null,
    });
    expect(sessionAlive(session(now - 1 * day, now + day), cfg, now)).toBe(true);
    expect(sessionAlive(session(now - 3 * day, now + day), cfg, now)).toBe(false);
    expect(sessionAlive(session(now - 1000, now - 1), cfg, now)).toBe(false);
    expect(sessionAlive({ ...session(now, now + day), revokedAt: new Date() }, cfg, now)).toBe(
      false,
    );
  });
});
