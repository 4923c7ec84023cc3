import crypto from "node:crypto";
import { Errors, ServiceBroker, type Context, type ServiceSchema } from "moleculer";
import { exportJWK, SignJWT, type JWK } from "jose";
import { brokerOptions } from "../../moleculer.config";
import { testConfig } from "../support/isolation";
import { SERVERS } from "../support/servers";
import type { AuthUser, Role } from "../../models/auth.model";

/**
 * Shared pieces of the gateway suites: a key ring that signs access tokens the way the
 * users service does (lib/auth/token-claims.ts), small stand-in services, and a tiny
 * HTTP client. Other suites may use `signAccessToken` to act as any user against a
 * real gateway (BOLA and mass-assignment proofs of security.md lines 19 and 21).
 */

export const TEST_PUBLIC_URL = "http://lingomesh.test";

export interface SigningKey {
  kid: string;
  privateKey: crypto.KeyObject;
  jwk: JWK;
}

export async function newSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("ed25519");
  const kid = crypto.randomBytes(8).toString("hex");
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "EdDSA", use: "sig" };
  return { kid, privateKey, jwk };
}

export interface TokenOptions {
  sub?: string;
  roles?: Role[];
  iss?: string;
  aud?: string;
  typ?: string;
  expiresInSeconds?: number;
  header?: Record<string, unknown>;
}

export async function signAccessToken(key: SigningKey, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ roles: opts.roles ?? ["learner"], sid: "s1" })
    .setProtectedHeader({ alg: "EdDSA", typ: opts.typ ?? "at+jwt", kid: key.kid, ...opts.header })
    .setIssuer(opts.iss ?? TEST_PUBLIC_URL)
    .setAudience(opts.aud ?? "lingomesh-api")
    .setSubject(opts.sub ?? "user-1")
    .setIssuedAt(now - 5)
    .setNotBefore(now - 5)
    .setJti(crypto.randomUUID())
    .setExpirationTime(now + (opts.expiresInSeconds ?? 600))
    .sign(key.privateKey);
}

const b64 = (value: object): string => Buffer.from(JSON.stringify(value)).toString("base64url");

/** The classic forgeries of security.md line 5. */
export function unsignedToken(claims: Record<string, unknown>): string {
  return `${b64({ alg: "none", typ: "at+jwt" })}.${b64(claims)}.`;
}

export function hsWithPublicKey(key: SigningKey, claims: Record<string, unknown>): string {
  const header = b64({ alg: "HS256", typ: "at+jwt", kid: key.kid });
  const body = b64(claims);
  const secret = JSON.stringify(key.jwk);
  const sig = crypto.createHmac("sha256", secret).update(`${header}.${body}`).digest("base64url");
  return `${header}.${body}.${sig}`;
}

export function standardClaims(sub = "user-1", roles: Role[] = ["admin"]): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return { iss: TEST_PUBLIC_URL, aud: "lingomesh-api", sub, roles, iat: now, exp: now + 600 };
}

/** Stand-in users service: publishes the key ring's public keys, counts how often it is asked. */
export function fakeUsersService(ring: { keys: SigningKey[]; jwksCalls: number }): ServiceSchema {
  return {
    name: "users",
    actions: {
      jwks: {
        handler() {
          ring.jwksCalls++;
          return { keys: ring.keys.map(key => key.jwk) };
        },
      },
      me: {
        auth: true,
        handler(ctx: Context<unknown, { user: AuthUser }>) {
          return { id: ctx.meta.user.id, roles: ctx.meta.user.roles, name: "Test User" };
        },
      },
    },
  };
}

/** A broker of stand-in services on the same namespace and transporter as the gateway. */
export async function startServiceNode(
  env: Record<string, string>,
  nodeID: string,
  schemas: ServiceSchema[],
): Promise<ServiceBroker> {
  const broker = new ServiceBroker({
    ...brokerOptions(testConfig({ ...env, SERVICES: "" })),
    nodeID,
  });
  for (const schema of schemas) broker.createService(schema);
  await broker.start();
  return broker;
}

export function natsEnv(
  namespace: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    NAMESPACE: namespace,
    TRANSPORTER: SERVERS.nats.url,
    REDIS_URL: SERVERS.redis.url,
    REDIS_PREFIX: `${namespace}:`,
    PUBLIC_URL: TEST_PUBLIC_URL,
    ...extra,
  };
}

export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: unknown;
  text: string;
}

export async function http(
  url: string,
  init: RequestInit & { token?: string; json?: unknown } = {},
): Promise<HttpAnswer> {
  const headers = new Headers(init.headers);
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  const res = await fetch(url, { ...init, headers, body });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

/**
 * Replicas of the real services that carry their actions' real declarations (params,
 * auth, roles, internal) but no handlers, databases or brokers of their own: the gateway's
 * registry then describes the real contract, independent of every store being up.
 * A replica's handler answers 503, as a service that is not reachable would.
 */
export function realActionReplicas(): ServiceSchema[] {
  const replicas: ServiceSchema[] = [];
  for (const name of ["users", "content", "progress", "notify", "billing"]) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(`../../services/${name}.service`) as {
      default?: ServiceSchema;
    } & ServiceSchema;
    const schema = mod.default ?? mod;
    const actions: Record<string, unknown> = {};
    for (const [actionName, def] of Object.entries(schema.actions ?? {})) {
      if (typeof def !== "object" || def === null) continue;
      const { params, auth, roles, internal, visibility } = def as Record<string, unknown>;
      actions[actionName] = {
        params,
        auth,
        roles,
        internal,
        visibility,
        handler() {
          throw new Errors.MoleculerServerError("replica without a handler", 503, "REPLICA");
        },
      };
    }
    replicas.push({ name: schema.name, actions } as ServiceSchema);
  }
  return replicas;
}
