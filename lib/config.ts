import os from "node:os";
import path from "node:path";

/**
 * The environment contract of shared/design/config.md, parsed once and typed.
 * Every variable is optional: unset means the embedded stand-in, so `npm start`
 * works on a fresh machine. A value that is set but wrong throws a ConfigError
 * whose message is the one line the node prints before it exits.
 */

export const ALL_SERVICES = ["api", "users", "content", "progress", "notify"] as const;
export type ServiceName = (typeof ALL_SERVICES)[number];

export type LogFormat = "json" | "pretty";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
export type TracingExporter = "none" | "console" | "jaeger" | "zipkin" | "event";

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
  tracingExporter: TracingExporter;
  /** Cluster mode: nodes talk over a real transporter, so no secret may be generated locally. */
  clusterMode: boolean;
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

export function loadConfig(env: Env = process.env): AppConfig {
  const transporter = read(env, "TRANSPORTER");
  if (
    transporter !== undefined &&
    !/^(nats|redis|amqp|mqtt|tcp|kafka):\/\//.test(transporter) &&
    transporter !== "Fake"
  ) {
    throw new ConfigError(
      "TRANSPORTER",
      `must be a transporter URL such as nats://host:4222 (got "${transporter.split("://")[0]}…")`,
    );
  }
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
  return {
    services: services(env),
    nodeId: read(env, "NODE_ID") ?? `${os.hostname()}-${process.pid}`,
    namespace,
    transporter,
    cacher: url(env, "CACHER", ["redis:", "rediss:"]),
    redisUrl: url(env, "REDIS_URL", ["redis:", "rediss:"]),
    redisPrefix: read(env, "REDIS_PREFIX") ?? `${namespace}:`,
    databaseUrl: url(env, "DATABASE_URL", ["postgres:", "postgresql:"]),
    contentMongoUri: url(env, "CONTENT_MONGO_URI", ["mongodb:", "mongodb+srv:"]),
    amqpUrl: url(env, "AMQP_URL", ["amqp:", "amqps:"]),
    smtpUrl: url(env, "SMTP_URL", ["smtp:", "smtps:"]),
    mailFrom: read(env, "MAIL_FROM") ?? "Lingomesh <no-reply@lingomesh.local>",
    publicUrl: (url(env, "PUBLIC_URL", ["http:", "https:"]) ?? "http://localhost:3000").replace(
      /\/+$/,
      "",
    ),
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
    tracingExporter: oneOf(
      env,
      "TRACING_EXPORTER",
      ["none", "console", "jaeger", "zipkin", "event"],
      "none",
    ),
    clusterMode: transporter !== undefined,
  };
}

let cached: AppConfig | undefined;

/** The configuration of this process, parsed on first use. */
export function config(): AppConfig {
  cached ??= loadConfig();
  return cached;
}

/** Tests start several nodes with different environments in one process. */
export function setConfig(next: AppConfig): void {
  cached = next;
}

interface BrokerWithConfig {
  options: { appConfig?: AppConfig };
}

/** The configuration a broker was built from (tests run several nodes with different ones). */
export function configOf(broker: BrokerWithConfig): AppConfig {
  return broker.options.appConfig ?? config();
}
