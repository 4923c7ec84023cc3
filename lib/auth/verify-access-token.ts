import {
  createLocalJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type JSONWebKeySet,
  type JWTPayload,
} from "jose";
import { ROLES, type AuthUser, type Role } from "../../models/auth.model";
import type { RevocationSet } from "./revocations";
import {
  ACCESS_TOKEN_ALGORITHM,
  ACCESS_TOKEN_TYPE,
  CLOCK_TOLERANCE_SECONDS,
  TOKEN_AUDIENCE,
  tokenIssuer,
} from "./token-claims";

/**
 * Local verification of access tokens (security.md lines 5–7) against the key set the
 * users service publishes. The key set is fetched once, kept, refetched in the background
 * when it is old, and refetched at once when a token names a key id we do not hold — at
 * most once per `minRefetchIntervalMs`, so a flood of tokens with invented key ids cannot
 * turn into a flood of calls to the users service.
 */

export class InvalidTokenError extends Error {
  constructor(readonly reason: string) {
    super(`invalid access token: ${reason}`);
    this.name = "InvalidTokenError";
  }
}

export interface AccessTokenVerifierOptions {
  /** PUBLIC_URL: the `iss` every access token of this deployment carries. */
  publicUrl: string;
  /** Loads the current key set (the gateway: a call to the users service's JWKS action). */
  fetchJwks: () => Promise<JSONWebKeySet>;
  /** Least time between two refetches triggered by unknown key ids. */
  minRefetchIntervalMs?: number;
  /** Age after which the key set is refreshed in the background. */
  maxAgeMs?: number;
  /** Verified tokens remembered (by token string) until they expire; 0 disables. */
  cacheSize?: number;
  /** Tokens revoked before they expire (lib/auth/revocations.ts): looked at on every verify. */
  revocations?: RevocationSet;
  now?: () => number;
}

interface VerifiedToken {
  user: AuthUser;
  kid: string | undefined;
  /** The token's own `exp` in ms: a remembered token is never believed past it. */
  expiresAt: number;
  issuedAtMs: number;
}

/** Headers that would let a token choose its own verification key: never honoured, always refused. */
const KEY_BEARING_HEADERS = ["jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"];

export class AccessTokenVerifier {
  private keys?: ReturnType<typeof createLocalJWKSet>;
  private kids = new Set<string>();
  private fetchedAt = 0;
  private lastFetchAttempt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;
  private readonly minRefetchIntervalMs: number;
  private readonly maxAgeMs: number;
  private readonly now: () => number;
  /** How many times the key set was fetched (observable in tests and metrics). */
  fetchCount = 0;
  /**
   * Tokens already verified, by their exact string: a client sends the same access token
   * on every request for its lifetime, and a signature check (WebCrypto on the thread pool)
   * is the largest CPU cost of an authenticated request at the gateway. A hit is the same
   * answer the full check gave; it ends at the token's `exp` and when its key leaves the set.
   */
  private readonly verified = new Map<string, VerifiedToken>();
  private readonly cacheSize: number;

  constructor(private readonly opts: AccessTokenVerifierOptions) {
    this.minRefetchIntervalMs = opts.minRefetchIntervalMs ?? 1_000;
    this.maxAgeMs = opts.maxAgeMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
    this.cacheSize = opts.cacheSize ?? 10_000;
  }

  private refresh(): Promise<void> {
    this.inflight ??= (async () => {
      this.lastFetchAttempt = this.now();
      try {
        const jwks = await this.opts.fetchJwks();
        if (!jwks || !Array.isArray(jwks.keys)) throw new Error("the key set has no keys");
        this.fetchCount++;
        this.keys = createLocalJWKSet(jwks);
        const kids = new Set(jwks.keys.map(key => key.kid).filter((kid): kid is string => !!kid));
        // A key withdrawn from the set takes the tokens it signed with it.
        if ([...this.kids].some(kid => !kids.has(kid))) this.verified.clear();
        this.kids = kids;
        this.fetchedAt = this.now();
      } finally {
        this.inflight = undefined;
      }
    })();
    return this.inflight;
  }

  /** Drop the cached keys (e.g. after the users service announced a rotation). */
  invalidate(): void {
    this.fetchedAt = 0;
    this.verified.clear();
  }

  private async keysFor(kid: string | undefined): Promise<ReturnType<typeof createLocalJWKSet>> {
    if (!this.keys) {
      await this.refresh();
    } else if (kid !== undefined && !this.kids.has(kid)) {
      if (this.now() - this.lastFetchAttempt >= this.minRefetchIntervalMs) {
        await this.refresh().catch(() => undefined);
      }
    } else if (this.now() - this.fetchedAt > this.maxAgeMs && !this.inflight) {
      void this.refresh().catch(() => undefined);
    }
    return this.keys as ReturnType<typeof createLocalJWKSet>;
  }

  /**
   * The caller the token speaks for. Throws InvalidTokenError for any token we must not
   * believe; errors reaching the key set (users service down) propagate as they are.
   */
  async verify(token: string): Promise<AuthUser> {
    const known = this.verified.get(token);
    if (known !== undefined) {
      if (this.now() < known.expiresAt) return this.unlessRevoked(known);
      this.verified.delete(token);
    }
    const verified = await this.verifyFully(token);
    if (this.cacheSize > 0 && verified.expiresAt > this.now()) {
      if (this.verified.size >= this.cacheSize) {
        // Oldest first out: Map keeps insertion order.
        const oldest = this.verified.keys().next().value as string;
        this.verified.delete(oldest);
      }
      this.verified.set(token, verified);
    }
    return this.unlessRevoked(verified);
  }

  /** A remembered signature is still checked against revocations: they may come at any time. */
  private unlessRevoked({ user, issuedAtMs }: VerifiedToken): AuthUser {
    const roles = this.opts.revocations
      ? this.opts.revocations.rolesOf({
          userId: user.id,
          sid: user.sid,
          issuedAtMs,
          roles: user.roles,
        })
      : user.roles;
    if (roles === null) throw new InvalidTokenError("revoked");
    return { ...user, roles: [...roles] };
  }

  private async verifyFully(token: string): Promise<VerifiedToken> {
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new InvalidTokenError("malformed");
    }
    if (header.alg !== ACCESS_TOKEN_ALGORITHM) throw new InvalidTokenError("algorithm not allowed");
    if (KEY_BEARING_HEADERS.some(name => name in header)) {
      throw new InvalidTokenError("key-bearing header");
    }
    if (header.kid !== undefined && !/^[A-Za-z0-9_-]{1,128}$/.test(header.kid)) {
      throw new InvalidTokenError("bad key id");
    }
    const keys = await this.keysFor(header.kid);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, keys, {
        algorithms: [ACCESS_TOKEN_ALGORITHM],
        typ: ACCESS_TOKEN_TYPE,
        issuer: tokenIssuer(this.opts.publicUrl),
        audience: TOKEN_AUDIENCE,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["sub", "exp", "iat"],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new InvalidTokenError(err.code);
      throw err;
    }
    if (typeof payload.sub !== "string" || payload.sub === "") {
      throw new InvalidTokenError("no subject");
    }
    const claimed = Array.isArray(payload.roles) ? (payload.roles as unknown[]) : [];
    const roles = claimed.filter((role): role is Role =>
      (ROLES as readonly unknown[]).includes(role),
    );
    const user: AuthUser =
      typeof payload.sid === "string"
        ? { id: payload.sub, roles, sid: payload.sid }
        : { id: payload.sub, roles };
    return {
      user,
      kid: header.kid,
      expiresAt: (payload.exp as number) * 1000,
      issuedAtMs: Math.round((payload.iat as number) * 1000),
    };
  }
}
