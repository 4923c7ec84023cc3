import os from "node:os";
import path from "node:path";

/**
 * The environment contract (CONFIG_VARIABLES below), parsed once and typed.
 * Every variable is optional: unset means the embedded stand-in, so `npm start`
 * works on a fresh machine. A value that is set but wrong throws a ConfigError
 * whose message is the one line the node prints before it exits.
 */

export const ALL_SERVICES = ["api", "users", "content", "progress", "notify", "billing"] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];

type LogFormat = "json" | "pretty";
type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
type TracingExporter = "none" | "console" | "jaeger" | "zipkin" | "event";

export interface S3Config {
  endpoint: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

export interface AppConfig {
  /** Services this node runs. */
  services: ServiceName[];
  nodeId: string;
  namespace: string;
  /** Unset: in-process transport, single node. */
  transporter?: string;
  /** Unset: in-memory cache. */
  cacher?: string;
  /** Unset: in-process stand-ins for rate limits, leaderboards and session fast paths. */
  redisUrl?: string;
  /** Prefix of every Redis key this node writes (cache, limits, leaderboards). */
  redisPrefix: string;
  /** Unset: the embedded PostgreSQL (PGlite) under DATA_DIR. */
  databaseUrl?: string;
  contentMongoUri?: string;
  /** Unset: in-process durable delivery. */
  amqpUrl?: string;
  /** Unset: mails written as .eml files under DATA_DIR/outbox. */
  smtpUrl?: string;
  /** An xAPI LRS's endpoint (credentials in the URL): every learner's statement is sent there too. */
  xapiLrsUrl?: string;
  mailFrom: string;
  publicUrl: string;
  /** Unset: files under DATA_DIR/media. */
  s3?: S3Config;
  jwtPrivateKey?: string;
  jwtPublicKey?: string;
  /** The key pair before the last rotation: its public half stays in the JWKS until its tokens expire. */
  jwtPreviousPublicKey?: string;
  port: number;
  /** 0 disables the metrics and health listener of non-gateway nodes. */
  metricsPort: number;
  rateLimitRpm: number;
  loginFailuresMax: number;
  logLevel: LogLevel;
  logFormat: LogFormat;
  dataDir: string;
  adminEmail?: string;
  adminPassword?: string;
  sessionIdleDays: number;
  sessionAbsoluteDays: number;
  /** Proxies whose X-Forwarded-For is believed (IPs or CIDR ranges). */
  trustedProxies: string[];
  corsOrigins: string[];
  /** OpenID Connect providers (OIDC_<ID>_*), in the order of their ids. */
  oidcProviders: OidcProviderConfig[];
  /** Where a provider sign-in may send the browser or app back (AUTH_REDIRECT_URIS). */
  authRedirectUris: string[];
  tracingExporter: TracingExporter;
  /** Unset: the local payment provider (embedded defaults only). */
  stripe?: StripeConfig;
  /** Web Push (RFC 8292) keys; unset: generated once under DATA_DIR/keys (in cluster mode: push off). */
  vapid?: { publicKey: string; privateKey: string };
  /** The VAPID `sub` claim: how a push service reaches the operator. */
  vapidSubject: string;
  /** A Twilio-compatible Messages endpoint, credentials in the URL; unset: SMS files under DATA_DIR/sms. */
  smsUrl?: string;
  smsFrom: string;
  /** Push endpoints over plain http (a test double on loopback); real push services are https. */
  pushAllowHttp: boolean;
  /** Live WebSockets at the gateway (api.md `GET /live`): limits per user and per node. */
  live: {
    maxPerUser: number;
    maxPerNode: number;
    heartbeatMs: number;
    sendBufferBytes: number;
  };
  /** Cluster mode: nodes talk over a real transporter, so no secret may be generated locally. */
  clusterMode: boolean;
}

export interface StripeConfig {
  secretKey: string;
  webhookSecret: string;
  /** A Stripe API double (tests); unset: api.stripe.com. */
  apiUrl?: string;
}

/** One OpenID Connect provider of the environment: `OIDC_<ID>_ISSUER` and its siblings. */
export interface OidcProviderConfig {
  /** `<ID>` in lower case: the `:provider` of the routes. */
  id: string;
  issuer: string;
  clientId: string;
  /** Unset: a public client (PKCE only). */
  clientSecret?: string;
  name: string;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`Configuration error: ${variable} ${problem}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function url(env: Env, name: string, protocols: string[]): string | undefined {
  const value = read(env, name);
  if (value === undefined) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, `is not a valid URL (expected ${protocols.join(" or ")}//…)`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(name, `must use ${protocols.join(" or ")} (got ${parsed.protocol})`);
  }
  return value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = read(env, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value)) throw new ConfigError(name, `must be a whole number (got "${value}")`);
  const parsed = Number(value);
  if (parsed < min || parsed > max) {
    throw new ConfigError(name, `must be between ${min} and ${max} (got ${parsed})`);
  }
  return parsed;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = read(env, name);
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(name, `must be one of ${allowed.join(", ")} (got "${value}")`);
  }
  return value as T;
}

function list(env: Env, name: string): string[] {
  const value = read(env, name);
  if (value === undefined) return [];
  return value
    .split(",")
    .map(item => item.trim())
    .filter(item => item !== "");
}

const OIDC_ISSUER = /^OIDC_([A-Z0-9]+(?:_[A-Z0-9]+)*)_ISSUER$/;
const OIDC_FIELD = /^OIDC_([A-Z0-9_]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET|NAME)$/;

/** A provider's issuer: https, or http on a loopback address (a developer's own provider, tests). */
function issuerUrl(env: Env, name: string): string {
  const value = url(env, name, ["https:", "http:"]) as string;
  const { protocol, hostname } = new URL(value);
  if (protocol === "http:" && !["localhost", "127.0.0.1", "[::1]"].includes(hostname)) {
    throw new ConfigError(name, "must use https: (http: only on a loopback address)");
  }
  return value;
}

/** Every `OIDC_<ID>_ISSUER` names a provider; its client id is required with it. */
function oidcProviders(env: Env): OidcProviderConfig[] {
  const names = Object.keys(env).filter(name => read(env, name) !== undefined);
  const ids = names.flatMap(name => OIDC_ISSUER.exec(name)?.[1] ?? []).sort();
  for (const name of names) {
    const id = OIDC_FIELD.exec(name)?.[1];
    if (id !== undefined && !ids.includes(id)) {
      throw new ConfigError(
        name,
        `is set but OIDC_${id}_ISSUER is not: a provider needs its issuer`,
      );
    }
  }
  return ids.map(id => {
    const clientId = read(env, `OIDC_${id}_CLIENT_ID`);
    if (clientId === undefined) {
      throw new ConfigError(
        `OIDC_${id}_CLIENT_ID`,
        "is missing: every provider needs its client id",
      );
    }
    return {
      id: id.toLowerCase().replace(/_/g, "-"),
      issuer: issuerUrl(env, `OIDC_${id}_ISSUER`),
      clientId,
      clientSecret: read(env, `OIDC_${id}_CLIENT_SECRET`),
      name: read(env, `OIDC_${id}_NAME`) ?? id.charAt(0) + id.slice(1).toLowerCase(),
    };
  });
}

/** Absolute URLs (a web page or an app's own scheme such as `com.example.app:/auth`). */
function redirectUris(env: Env, publicUrl: string): string[] {
  const uris = list(env, "AUTH_REDIRECT_URIS");
  for (const uri of uris) {
    if (!URL.canParse(uri) || uri.includes("#")) {
      throw new ConfigError(
        "AUTH_REDIRECT_URIS",
        `holds "${uri}", which is not an absolute URL without a fragment`,
      );
    }
  }
  return uris.length > 0 ? uris : [`${publicUrl}/auth/done`];
}

function services(env: Env): ServiceName[] {
  // Unset: every service. Set but empty: none (a REPL-only or observer node).
  if (env.SERVICES === undefined) return [...ALL_SERVICES];
  const names = list(env, "SERVICES");
  for (const name of names) {
    if (!(ALL_SERVICES as readonly string[]).includes(name)) {
      throw new ConfigError(
        "SERVICES",
        `names an unknown service "${name}" (known: ${ALL_SERVICES.join(", ")})`,
      );
    }
  }
  return names as ServiceName[];
}

function pem(env: Env, name: string, kind: "PRIVATE" | "PUBLIC"): string | undefined {
  const value = read(env, name);
  if (value === undefined) return undefined;
  // Orchestrators often pass multi-line secrets with literal "\n".
  const normalised = value.replace(/\\n/g, "\n");
  if (!new RegExp(`-----BEGIN (?:[A-Z]+ )?${kind} KEY-----`).test(normalised)) {
    throw new ConfigError(name, `must be a PEM-encoded ${kind.toLowerCase()} key`);
  }
  return normalised;
}

/** A base64url value of `bytes` bytes (VAPID keys are a raw P-256 point and scalar). */
function base64url(env: Env, name: string, bytes: number): string | undefined {
  const value = read(env, name);
  if (value === undefined) return undefined;
  if (!/^[A-Za-z0-9_-]+$/.test(value) || Buffer.from(value, "base64url").length !== bytes) {
    throw new ConfigError(
      name,
      `must be ${bytes} bytes in URL-safe base64 (web-push generate-vapid-keys)`,
    );
  }
  return value;
}

function vapid(env: Env): AppConfig["vapid"] {
  const publicKey = base64url(env, "VAPID_PUBLIC_KEY", 65);
  const privateKey = base64url(env, "VAPID_PRIVATE_KEY", 32);
  if (publicKey === undefined && privateKey === undefined) return undefined;
  if (publicKey === undefined || privateKey === undefined) {
    throw new ConfigError(
      publicKey ? "VAPID_PRIVATE_KEY" : "VAPID_PUBLIC_KEY",
      "is missing: the VAPID key pair must be set together",
    );
  }
  return { publicKey, privateKey };
}

function smsFrom(env: Env): string {
  const value = read(env, "SMS_FROM");
  if (value === undefined) return "Lingomesh";
  if (!/^(\+[1-9]\d{7,14}|[A-Za-z0-9 ]{1,11})$/.test(value)) {
    throw new ConfigError(
      "SMS_FROM",
      "must be an E.164 number (+15551234567) or an 11-character sender id",
    );
  }
  return value;
}

function vapidSubject(env: Env, publicUrl: string): string {
  const value = read(env, "VAPID_SUBJECT");
  if (value === undefined) return publicUrl;
  if (!/^(mailto:|https:)/.test(value)) {
    throw new ConfigError("VAPID_SUBJECT", "must be a mailto: or https: URL");
  }
  return value;
}

function s3(env: Env): S3Config | undefined {
  const names = ["S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY"] as const;
  const values = names.map(name => read(env, name));
  if (values.every(value => value === undefined)) return undefined;
  const missing = names.filter((_, index) => values[index] === undefined);
  if (missing.length > 0) {
    throw new ConfigError(
      missing[0],
      "is missing: S3 needs S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY and S3_SECRET_KEY together",
    );
  }
  return {
    endpoint: url(env, "S3_ENDPOINT", ["http:", "https:"]) as string,
    bucket: values[1] as string,
    accessKey: values[2] as string,
    secretKey: values[3] as string,
    region: read(env, "S3_REGION") ?? "us-east-1",
  };
}

function stripe(env: Env): StripeConfig | undefined {
  const secretKey = read(env, "STRIPE_SECRET_KEY");
  const webhookSecret = read(env, "STRIPE_WEBHOOK_SECRET");
  const apiUrl = url(env, "STRIPE_API_URL", ["http:", "https:"]);
  if (secretKey === undefined && webhookSecret === undefined) {
    if (apiUrl !== undefined)
      throw new ConfigError("STRIPE_SECRET_KEY", "is missing: STRIPE_API_URL needs the keys");
    return undefined;
  }
  if (secretKey === undefined || webhookSecret === undefined) {
    throw new ConfigError(
      secretKey === undefined ? "STRIPE_SECRET_KEY" : "STRIPE_WEBHOOK_SECRET",
      "is missing: Stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET together",
    );
  }
  if (!/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/.test(secretKey))
    throw new ConfigError("STRIPE_SECRET_KEY", "must be a Stripe secret key (sk_… or rk_…)");
  if (!/^whsec_[A-Za-z0-9_+/=]+$/.test(webhookSecret))
    throw new ConfigError("STRIPE_WEBHOOK_SECRET", "must be a webhook signing secret (whsec_…)");
  return { secretKey, webhookSecret, apiUrl };
}

/**
 * TRANSPORTER: one transporter URL, or for NATS a comma-separated list of the servers of
 * one NATS cluster (`nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222`): the node
 * connects to one of them and moves to another when it fails.
 */
function transporterUrl(env: Env): string | undefined {
  const transporter = read(env, "TRANSPORTER");
  if (transporter === undefined || transporter === "Fake") return transporter;
  if (!/^(nats|redis|amqp|mqtt|tcp|kafka):\/\//.test(transporter)) {
    throw new ConfigError(
      "TRANSPORTER",
      `must be a transporter URL such as nats://host:4222 (got "${transporter.split("://")[0]}…")`,
    );
  }
  if (transporter.startsWith("nats://")) natsServers(transporter);
  return transporter;
}

/** The host:port of every server in a TRANSPORTER list of nats:// URLs. */
export function natsServers(transporter: string): string[] {
  return transporter.split(",").map(item => {
    const entry = item.trim();
    let parsed: URL;
    try {
      parsed = new URL(entry);
    } catch {
      throw new ConfigError("TRANSPORTER", `holds "${entry}", which is not a valid URL`);
    }
    if (parsed.protocol !== "nats:" || parsed.hostname === "") {
      throw new ConfigError(
        "TRANSPORTER",
        `lists several servers: each must be nats://host:port (got "${entry.split("://")[0]}…")`,
      );
    }
    return `${parsed.hostname}:${parsed.port || "4222"}`;
  });
}

/** A Redis reached through Sentinel: where the Sentinels are and which primary they watch. */
export interface RedisSentinelTarget {
  sentinels: Array<{ host: string; port: number }>;
  /** The name the Sentinels monitor the primary under (`sentinel monitor <name> …`). */
  name: string;
  db: number;
  username?: string;
  password?: string;
}

const SENTINEL_FORM =
  "redis-sentinel://[user:password@]host:26379[,host:26379…]/<primary name>[/db]";

/**
 * `redis-sentinel://[user:password@]s1:26379,s2:26379,s3:26379/<name>[/<db>]`: the Sentinels
 * to ask, the primary's name, and the credentials of the Redis servers themselves. WHATWG URLs
 * hold one host, so the host list is split by hand.
 */
export function parseRedisSentinelUrl(value: string, variable = "REDIS_URL"): RedisSentinelTarget {
  const match = /^redis-sentinel:\/\/(?:([^@/]*)@)?([^/]+)\/([^/]+)(?:\/(\d+))?\/?$/.exec(value);
  if (!match) throw new ConfigError(variable, `must have the form ${SENTINEL_FORM}`);
  const [, credentials, hosts, name, db] = match;
  const sentinels = hosts.split(",").map(item => {
    const hostPort = /^([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/.exec(item.trim());
    if (!hostPort) {
      throw new ConfigError(variable, `lists "${item.trim()}" as a Sentinel: it must be host:port`);
    }
    return { host: hostPort[1].replace(/^\[|\]$/g, ""), port: Number(hostPort[2]) };
  });
  let username: string | undefined;
  let password: string | undefined;
  if (credentials) {
    const colon = credentials.indexOf(":");
    username =
      decodeURIComponent(colon >= 0 ? credentials.slice(0, colon) : credentials) || undefined;
    password = colon >= 0 ? decodeURIComponent(credentials.slice(colon + 1)) : undefined;
  }
  return { sentinels, name: decodeURIComponent(name), db: db ? Number(db) : 0, username, password };
}

/** REDIS_URL / CACHER: a redis:// or rediss:// URL, or the redis-sentinel:// form. */
function redisUrl(env: Env, name: string): string | undefined {
  const value = read(env, name);
  if (value?.startsWith("redis-sentinel:")) {
    parseRedisSentinelUrl(value, name);
    return value;
  }
  return url(env, name, ["redis:", "rediss:"]);
}

export function loadConfig(env: Env = process.env): AppConfig {
  const transporter = transporterUrl(env);
  const namespace = read(env, "NAMESPACE") ?? "lingomesh";
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(namespace)) {
    throw new ConfigError("NAMESPACE", "may only hold letters, digits, '-' and '_'");
  }
  const jwtPrivateKey = pem(env, "JWT_PRIVATE_KEY", "PRIVATE");
  const jwtPublicKey = pem(env, "JWT_PUBLIC_KEY", "PUBLIC");
  if ((jwtPrivateKey === undefined) !== (jwtPublicKey === undefined)) {
    throw new ConfigError(
      jwtPrivateKey ? "JWT_PUBLIC_KEY" : "JWT_PRIVATE_KEY",
      "is missing: the key pair must be set together",
    );
  }
  const adminEmail = read(env, "ADMIN_EMAIL");
  const adminPassword = read(env, "ADMIN_PASSWORD");
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    throw new ConfigError(
      adminEmail ? "ADMIN_PASSWORD" : "ADMIN_EMAIL",
      "is missing: the bootstrap admin needs both",
    );
  }
  const tty = Boolean(process.stdout.isTTY);
  const publicUrl = (
    url(env, "PUBLIC_URL", ["http:", "https:"]) ?? "http://localhost:3000"
  ).replace(/\/+$/, "");
  return {
    services: services(env),
    nodeId: read(env, "NODE_ID") ?? `${os.hostname()}-${process.pid}`,
    namespace,
    transporter,
    cacher: redisUrl(env, "CACHER"),
    redisUrl: redisUrl(env, "REDIS_URL"),
    redisPrefix: read(env, "REDIS_PREFIX") ?? `${namespace}:`,
    databaseUrl: url(env, "DATABASE_URL", ["postgres:", "postgresql:"]),
    contentMongoUri: url(env, "CONTENT_MONGO_URI", ["mongodb:", "mongodb+srv:"]),
    amqpUrl: url(env, "AMQP_URL", ["amqp:", "amqps:"]),
    smtpUrl: url(env, "SMTP_URL", ["smtp:", "smtps:"]),
    xapiLrsUrl: url(env, "XAPI_LRS_URL", ["http:", "https:"]),
    mailFrom: read(env, "MAIL_FROM") ?? "Lingomesh <no-reply@lingomesh.local>",
    publicUrl,
    s3: s3(env),
    jwtPrivateKey,
    jwtPublicKey,
    jwtPreviousPublicKey: pem(env, "JWT_PREVIOUS_PUBLIC_KEY", "PUBLIC"),
    port: integer(env, "PORT", 3000, 0, 65535),
    metricsPort: integer(env, "METRICS_PORT", 3030, 0, 65535),
    rateLimitRpm: integer(env, "RATE_LIMIT_RPM", 600, 1, 1_000_000),
    loginFailuresMax: integer(env, "LOGIN_FAILURES_MAX", 10, 1, 1000),
    logLevel: oneOf(env, "LOG_LEVEL", ["fatal", "error", "warn", "info", "debug", "trace"], "info"),
    logFormat: oneOf(env, "LOG_FORMAT", ["json", "pretty"], tty ? "pretty" : "json"),
    dataDir: path.resolve(read(env, "DATA_DIR") ?? "./data"),
    adminEmail,
    adminPassword,
    sessionIdleDays: integer(env, "SESSION_IDLE_DAYS", 30, 1, 3650),
    sessionAbsoluteDays: integer(env, "SESSION_ABSOLUTE_DAYS", 90, 1, 3650),
    trustedProxies: list(env, "TRUSTED_PROXIES"),
    corsOrigins: list(env, "CORS_ORIGINS"),
    oidcProviders: oidcProviders(env),
    authRedirectUris: redirectUris(env, publicUrl),
    tracingExporter: oneOf(
      env,
      "TRACING_EXPORTER",
      ["none", "console", "jaeger", "zipkin", "event"],
      "none",
    ),
    stripe: stripe(env),
    smsUrl: url(env, "SMS_URL", ["https:", "http:"]),
    smsFrom: smsFrom(env),
    vapid: vapid(env),
    vapidSubject: vapidSubject(env, publicUrl),
    pushAllowHttp: oneOf(env, "PUSH_ALLOW_HTTP", ["true", "false"], "false") === "true",
    live: {
      maxPerUser: integer(env, "LIVE_MAX_SOCKETS_PER_USER", 5, 1, 1000),
      maxPerNode: integer(env, "LIVE_MAX_SOCKETS_PER_NODE", 10_000, 1, 1_000_000),
      heartbeatMs: integer(env, "LIVE_HEARTBEAT_MS", 30_000, 100, 600_000),
      sendBufferBytes: integer(env, "LIVE_SEND_BUFFER_BYTES", 1_048_576, 1024, 1_073_741_824),
    },
    clusterMode: transporter !== undefined,
  };
}

/**
 * At the start of the billing service: in cluster mode payments must go through Stripe
 * (config.md: the local stand-in is refused there).
 */
export function requirePaymentProvider(cfg: AppConfig): void {
  if (cfg.clusterMode && cfg.stripe === undefined) {
    throw new ConfigError(
      "STRIPE_SECRET_KEY",
      "is required in cluster mode (TRANSPORTER is set): the billing service takes payments through Stripe",
    );
  }
}

/**
 * At the start of a service with durable events: in cluster mode they must cross
 * processes, which the in-process bus cannot do (its events would be marked sent and
 * never reach another node).
 */
export function requireDurableEventBroker(cfg: AppConfig): void {
  if (cfg.clusterMode && cfg.amqpUrl === undefined) {
    throw new ConfigError(
      "AMQP_URL",
      "is required in cluster mode (TRANSPORTER is set): durable events must cross processes through RabbitMQ",
    );
  }
}

let cached: AppConfig | undefined;

/** The configuration of this process, parsed on first use. */
export function config(): AppConfig {
  cached ??= loadConfig();
  return cached;
}

interface BrokerWithConfig {
  options: { appConfig?: AppConfig };
}

/** The configuration a broker was built from (tests run several nodes with different ones). */
export function configOf(broker: BrokerWithConfig): AppConfig {
  return broker.options.appConfig ?? config();
}

/**
 * The configuration contract: every variable a deployment may set, in one table. The README's
 * configuration table is generated from it (`npm run docs:config`) and the deployment tests
 * check that docker-compose.yml and .env.example wire every variable a node reads.
 */
export interface ConfigVariable {
  /** Variables documented together; `<ID>` stands for a name the operator picks. */
  names: readonly string[];
  example: string;
  /** What a node does when the variable is unset. */
  unset: string;
  /** False for a variable of the contract that no code reads yet. */
  read: boolean;
  /** What this code adds to the contract's row, or does not do yet. */
  note?: string;
}

export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  {
    names: ["SERVICES"],
    example: "`users,progress` (which services this node runs)",
    unset: "all of them (`api,users,content,progress,notify,billing`)",
    read: true,
    note: "set but empty: none (a REPL node)",
  },
  { names: ["NODE_ID"], example: "`progress-1`", unset: "host name + pid", read: true },
  {
    names: ["NAMESPACE"],
    example: "`prod` (nodes only see nodes of the same namespace)",
    unset: "`lingomesh`",
    read: true,
  },
  {
    names: ["TRANSPORTER"],
    example: "`nats://nats:4222`",
    unset: "in-process (single node)",
    read: true,
    note: "a NATS cluster: its servers comma-separated, `nats://nats-1:4222,nats://nats-2:4222,nats://nats-3:4222`",
  },
  {
    names: ["CACHER"],
    example: "`redis://redis:6379`",
    unset: "in-memory cache",
    read: true,
    note: "also the Sentinel form of REDIS_URL",
  },
  {
    names: ["REDIS_URL"],
    example: "`redis://redis:6379` (rate limits, leaderboards, sessions)",
    unset: "in-process stand-ins",
    read: true,
    note: "behind Sentinel: `redis-sentinel://[user:password@]sentinel-1:26379,sentinel-2:26379,sentinel-3:26379/<primary name>[/db]` (the credentials are the Redis servers')",
  },
  {
    names: ["DATABASE_URL"],
    example: "`postgres://app@postgres:5432/lingomesh`",
    unset: "embedded file store under DATA_DIR",
    read: true,
    note: "the embedded store is PostgreSQL (PGlite)",
  },
  {
    names: ["CONTENT_MONGO_URI"],
    example: "`mongodb://mongo:27017/content`",
    unset: "content uses DATABASE_URL",
    read: true,
  },
  {
    names: ["AMQP_URL"],
    example: "`amqp://guest:guest@rabbitmq:5672`",
    unset:
      "in-process event delivery (refused in cluster mode: events must cross processes durably)",
    read: true,
    note: "a cluster node running a service with durable events refuses to start without it",
  },
  {
    names: ["SMTP_URL"],
    example: "`smtp://mailpit:1025`",
    unset: "mails written as .eml files under DATA_DIR/outbox",
    read: true,
  },
  {
    names: ["MAIL_FROM"],
    example: "`Lingomesh <no-reply@example.com>`",
    unset: "a local default",
    read: true,
    note: "`Lingomesh <no-reply@lingomesh.local>`",
  },
  {
    names: ["PUBLIC_URL"],
    example: "`https://learn.example.com` (links in mails)",
    unset: "`http://localhost:3000`",
    read: true,
    note: "also the access tokens' issuer",
  },
  {
    names: ["S3_ENDPOINT", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY"],
    example: "MinIO or S3",
    unset: "files under DATA_DIR/media",
    read: true,
  },
  {
    names: ["JWT_PRIVATE_KEY", "JWT_PUBLIC_KEY"],
    example: "PEM (asymmetric)",
    unset:
      "generated once, kept under DATA_DIR (refused in cluster mode: every node must sign with one key)",
    read: true,
    note: "Ed25519; kept under DATA_DIR/keys",
  },
  {
    names: ["OIDC_<ID>_ISSUER", "OIDC_<ID>_CLIENT_ID", "OIDC_<ID>_CLIENT_SECRET", "OIDC_<ID>_NAME"],
    example:
      "`OIDC_GOOGLE_ISSUER=https://accounts.google.com`: one provider per `<ID>` (discovery from the issuer)",
    unset: "no providers",
    read: true,
    note: "`<ID>` in lower case is the provider's id in the routes (`/auth/oidc/google/start`); the issuer must be https (http only on loopback); without a client secret the client is public (PKCE only)",
  },
  {
    names: ["AUTH_REDIRECT_URIS"],
    example:
      "`https://learn.example.com/auth/done,com.example.app:/auth` (where sign-in may return)",
    unset: "`PUBLIC_URL/auth/done`",
    read: true,
  },
  {
    names: ["VAPID_PUBLIC_KEY", "VAPID_PRIVATE_KEY", "VAPID_SUBJECT"],
    example: "Web Push keys",
    unset: "generated once under DATA_DIR",
    read: true,
    note: "`npx web-push generate-vapid-keys`; kept under DATA_DIR/keys on a single node; in cluster mode unset means Web Push is off (its routes answer 503); the subject defaults to PUBLIC_URL",
  },
  {
    names: ["SMS_URL", "SMS_FROM"],
    example: "a Twilio-compatible Messages endpoint with credentials in the URL",
    unset: "SMS written as files under DATA_DIR/sms",
    read: true,
    note: "`https://<AccountSid>:<AuthToken>@api.twilio.com/2010-04-01/Accounts/<AccountSid>/Messages.json`; SMS_FROM an E.164 number or sender id (unset: `Lingomesh`)",
  },
  {
    names: ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_URL"],
    example: "Stripe (the API URL only to point at a test double)",
    unset: "a local provider whose checkout completes at once (refused in cluster mode)",
    read: true,
    note: "the keys go together; the local provider's checkout page is `PUBLIC_URL/billing/local-checkout/<session>` (docs/billing.md); a cluster node running billing refuses to start without them",
  },
  {
    names: ["XAPI_LRS_URL"],
    example: "`https://user:pass@lrs.example.com/xapi/`",
    unset: "statements only served at `/me/xapi`",
    read: true,
    note: "every statement also sent there, durably (docs/xapi.md)",
  },
  { names: ["PORT"], example: "`3000` (gateway HTTP)", unset: "3000", read: true },
  {
    names: ["METRICS_PORT"],
    example: "`3030` (Prometheus, every node)",
    unset: "3030 (0 disables)",
    read: true,
    note: "also serves /health on nodes without the gateway",
  },
  {
    names: ["RATE_LIMIT_RPM"],
    example:
      "`600` requests a minute per client at the gateway; the stricter per-route limits (register, forgot-password) scale with it",
    unset: "600",
    read: true,
  },
  {
    names: ["LOGIN_FAILURES_MAX"],
    example: "`10` failed logins per account per 15 min before 429",
    unset: "10",
    read: true,
  },
  {
    names: ["LOG_LEVEL", "LOG_FORMAT"],
    example: "`info`, `json`",
    unset: "`info`, `pretty` on a terminal else `json`",
    read: true,
  },
  { names: ["DATA_DIR"], example: "`/var/lib/lingomesh`", unset: "`./data`", read: true },
];

/** Variables this code reads beyond the contract's table. */
export const EXTRA_CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { names: ["REDIS_PREFIX"], example: "`prod:`", unset: "`<NAMESPACE>:`", read: true },
  { names: ["S3_REGION"], example: "`eu-west-1`", unset: "`us-east-1`", read: true },
  {
    names: ["JWT_PREVIOUS_PUBLIC_KEY"],
    example: "PEM of the key before a rotation (stays in the JWKS until its tokens expire)",
    unset: "no previous key",
    read: true,
  },
  {
    names: ["SESSION_IDLE_DAYS", "SESSION_ABSOLUTE_DAYS"],
    example: "`30`, `90`",
    unset: "30, 90",
    read: true,
  },
  {
    names: ["TRUSTED_PROXIES"],
    example: "`10.0.0.0/8,172.16.0.0/12` (whose X-Forwarded-For is believed)",
    unset: "none",
    read: true,
  },
  {
    names: ["CORS_ORIGINS"],
    example: "`https://learn.example.com`",
    unset: "none (no cross-origin access)",
    read: true,
  },
  {
    names: ["ADMIN_EMAIL", "ADMIN_PASSWORD"],
    example: "bootstrap admin, created idempotently at start",
    unset: "no admin",
    read: true,
  },
  {
    names: ["PUSH_ALLOW_HTTP"],
    example: "`true` only to point subscriptions at a push service test double on plain http",
    unset: "`false` (push endpoints must be https)",
    read: true,
  },
  {
    names: ["LIVE_MAX_SOCKETS_PER_USER", "LIVE_MAX_SOCKETS_PER_NODE"],
    example: "`5`, `10000` (live WebSockets of one user on one gateway node; of one node)",
    unset: "5, 10000",
    read: true,
  },
  {
    names: ["LIVE_HEARTBEAT_MS", "LIVE_SEND_BUFFER_BYTES"],
    example:
      "`30000` (a ping per interval; no pong by the next one closes the socket), `1048576` (bytes waiting for a slow client before it is dropped)",
    unset: "30000, 1048576",
    read: true,
  },
  {
    names: ["TRACING_EXPORTER"],
    example: "`console`, `jaeger`, `zipkin`, `event`",
    unset: "`none`",
    read: true,
  },
];
