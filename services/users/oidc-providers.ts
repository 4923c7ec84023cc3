import { createRemoteJWKSet, jwtVerify, type JWTPayload } from "jose";
import * as oidc from "openid-client";
import type { AppConfig, OidcProviderConfig } from "../../lib/config";
import { CLOCK_TOLERANCE_SECONDS } from "../../lib/auth/token-claims";

/**
 * The OpenID Connect providers of the environment (OIDC_<ID>_*), one code path for all of
 * them: each is discovered from its issuer by openid-client on first use (so a provider that
 * is down does not stop the node) and kept; a failed discovery is tried again next time.
 */

export interface OidcProvider {
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  /** The provider's metadata and our client, as openid-client holds them. */
  configuration(): Promise<oidc.Configuration>;
  /**
   * Verifies an ID token handed to us by a native sign-in SDK: signature against the
   * provider's JWKS, `iss`, `aud` (our client id), `exp`/`iat` and the nonce. Answers its claims.
   */
  verifyIdToken(idToken: string, nonce: string): Promise<JWTPayload>;
}

export interface OidcProviders {
  list(): Array<{ id: string; name: string }>;
  get(id: string): OidcProvider | undefined;
}

const DISCOVERY_TIMEOUT_SECONDS = 10;

function isLoopbackHttp(issuer: string): boolean {
  return new URL(issuer).protocol === "http:";
}

function provider(spec: OidcProviderConfig): OidcProvider {
  let discovered: Promise<oidc.Configuration> | undefined;
  let keys: ReturnType<typeof createRemoteJWKSet> | undefined;
  const configuration = () => {
    discovered ??= oidc
      .discovery(
        new URL(spec.issuer),
        spec.clientId,
        spec.clientSecret,
        spec.clientSecret === undefined ? oidc.None() : oidc.ClientSecretPost(spec.clientSecret),
        {
          timeout: DISCOVERY_TIMEOUT_SECONDS,
          // lib/config.ts admits http: only for an issuer on a loopback address.
          ...(isLoopbackHttp(spec.issuer) ? { execute: [oidc.allowInsecureRequests] } : {}),
        },
      )
      .catch((err: unknown) => {
        discovered = undefined;
        throw err;
      });
    return discovered;
  };
  return {
    id: spec.id,
    name: spec.name,
    issuer: spec.issuer,
    clientId: spec.clientId,
    configuration,
    async verifyIdToken(idToken, nonce) {
      const metadata = (await configuration()).serverMetadata();
      if (!metadata.jwks_uri) throw new Error(`${spec.id}: the provider publishes no jwks_uri`);
      keys ??= createRemoteJWKSet(new URL(metadata.jwks_uri));
      const { payload } = await jwtVerify(idToken, keys, {
        issuer: metadata.issuer,
        audience: spec.clientId,
        algorithms: metadata.id_token_signing_alg_values_supported ?? ["RS256"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ["sub", "exp", "iat", "nonce"],
      });
      if (payload.nonce !== nonce) throw new Error("the ID token's nonce is not the one given");
      return payload;
    },
  };
}

export function createOidcProviders(cfg: AppConfig): OidcProviders {
  const byId = new Map(cfg.oidcProviders.map(spec => [spec.id, provider(spec)]));
  return {
    list: () => [...byId.values()].map(({ id, name }) => ({ id, name })),
    get: id => byId.get(id),
  };
}

/** Where a provider sends the browser back: the callback route of this deployment. */
export function callbackUrl(cfg: AppConfig, providerId: string): string {
  return `${cfg.publicUrl}/api/v1/auth/oidc/${encodeURIComponent(providerId)}/callback`;
}
