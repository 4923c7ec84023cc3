import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, exportJWK, SignJWT, type JWK } from "jose";
import type { AppConfig } from "../../lib/config";
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TTL_SECONDS,
  ACCESS_TOKEN_TYPE,
  TOKEN_AUDIENCE,
  tokenIssuer,
} from "../../lib/auth/token-claims";
import type { Role } from "../../models/auth.model";

/**
 * Access tokens (Ed25519 JWTs, RFC 9068 `at+jwt`) and the opaque one-time values
 * (refresh, verification, reset tokens, recovery codes). Opaque values are 256 bits
 * from the CSPRNG and only their SHA-256 digest is stored: a database leak yields no
 * usable token, and a high-entropy value needs no slow hash.
 */

export interface SigningKeys {
  kid: string;
  privateKey: crypto.KeyObject;
  /** Every key that may still verify a live token: the current one first, then the previous one. */
  jwks: { keys: JWK[] };
}

class SigningKeyError extends Error {}

const KEY_FILES = {
  private: "jwt-private.pem",
  public: "jwt-public.pem",
  previous: "jwt-previous-public.pem",
};

function keyPairFromPem(
  privatePem: string,
  publicPem: string,
): { privateKey: crypto.KeyObject; publicKey: crypto.KeyObject } {
  const privateKey = crypto.createPrivateKey(privatePem);
  const publicKey = crypto.createPublicKey(publicPem);
  if (privateKey.asymmetricKeyType !== "ed25519" || publicKey.asymmetricKeyType !== "ed25519") {
    throw new SigningKeyError("JWT_PRIVATE_KEY/JWT_PUBLIC_KEY must be an Ed25519 key pair (EdDSA)");
  }
  // A public key that does not belong to the private one would publish a JWKS that verifies nothing.
  const derived = crypto.createPublicKey(privateKey).export({ type: "spki", format: "der" });
  if (!derived.equals(publicKey.export({ type: "spki", format: "der" }))) {
    throw new SigningKeyError("JWT_PUBLIC_KEY is not the public half of JWT_PRIVATE_KEY");
  }
  return { privateKey, publicKey };
}

/** Single-node mode only: a key pair made once and kept under DATA_DIR/keys (0600), so restarts keep sessions valid. */
function localKeyPair(dataDir: string): {
  privatePem: string;
  publicPem: string;
  previousPem?: string;
} {
  const dir = path.join(dataDir, "keys");
  const privateFile = path.join(dir, KEY_FILES.private);
  const publicFile = path.join(dir, KEY_FILES.public);
  const previousFile = path.join(dir, KEY_FILES.previous);
  if (!fs.existsSync(privateFile) || !fs.existsSync(publicFile)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    const pair = crypto.generateKeyPairSync("ed25519", {
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    // "wx": two processes starting at once on one DATA_DIR never overwrite each other's key.
    try {
      fs.writeFileSync(privateFile, pair.privateKey, { mode: 0o600, flag: "wx" });
      fs.writeFileSync(publicFile, pair.publicKey, { mode: 0o644, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  return {
    privatePem: fs.readFileSync(privateFile, "utf8"),
    publicPem: fs.readFileSync(publicFile, "utf8"),
    previousPem: fs.existsSync(previousFile) ? fs.readFileSync(previousFile, "utf8") : undefined,
  };
}

async function publicJwk(publicKey: crypto.KeyObject): Promise<JWK> {
  const jwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { ...jwk, kid, alg: ACCESS_TOKEN_ALGORITHM, use: "sig" };
}

/**
 * The signing key of this node. From JWT_PRIVATE_KEY/JWT_PUBLIC_KEY when set; otherwise,
 * on a single node only, generated once under DATA_DIR. In cluster mode a missing key stops
 * the node: a key made up locally would differ per node and nothing else could verify it.
 */
export async function loadSigningKeys(cfg: AppConfig): Promise<SigningKeys> {
  let privatePem = cfg.jwtPrivateKey;
  let publicPem = cfg.jwtPublicKey;
  let previousPem = cfg.jwtPreviousPublicKey;
  if (privatePem === undefined || publicPem === undefined) {
    if (cfg.clusterMode) {
      throw new SigningKeyError(
        "JWT_PRIVATE_KEY and JWT_PUBLIC_KEY are required in cluster mode (TRANSPORTER is set); refusing to start with a locally generated key",
      );
    }
    const local = localKeyPair(cfg.dataDir);
    privatePem = local.privatePem;
    publicPem = local.publicPem;
    previousPem ??= local.previousPem;
  }
  const { privateKey, publicKey } = keyPairFromPem(privatePem, publicPem);
  const current = await publicJwk(publicKey);
  const keys = [current];
  if (previousPem !== undefined) {
    const previous = await publicJwk(crypto.createPublicKey(previousPem));
    if (previous.kid !== current.kid) keys.push(previous);
  }
  return { kid: current.kid as string, privateKey, jwks: { keys } };
}

export interface IssuedAccessToken {
  accessToken: string;
  expiresIn: number;
}

export async function signAccessToken(
  keys: SigningKeys,
  cfg: AppConfig,
  subject: { userId: string; roles: Role[]; sessionId: string },
): Promise<IssuedAccessToken> {
  const nowMs = Date.now();
  const now = Math.floor(nowMs / 1000);
  const accessToken = await new SignJWT({ roles: subject.roles, sid: subject.sessionId })
    .setProtectedHeader({ alg: ACCESS_TOKEN_ALGORITHM, kid: keys.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(tokenIssuer(cfg.publicUrl))
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(subject.userId)
    // To the millisecond (a NumericDate may have a fraction, RFC 7519 §2): "issued before a
    // password change" must tell apart a token from just before it and one from just after.
    .setIssuedAt(nowMs / 1000)
    .setNotBefore(now)
    .setExpirationTime(now + ACCESS_TOKEN_TTL_SECONDS)
    .setJti(crypto.randomUUID())
    .sign(keys.privateKey);
  return { accessToken, expiresIn: ACCESS_TOKEN_TTL_SECONDS };
}

/** 256 random bits, base64url: refresh, verification and reset tokens. */
export function newOpaqueToken(): string {
  return crypto.randomBytes(32).toString("base64url");
}

export function digest(value: string): string {
  return crypto.createHash("sha256").update(value, "utf8").digest("hex");
}
