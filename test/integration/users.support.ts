import crypto from "node:crypto";
import { Client } from "pg";

/** Helpers shared by the users suites: HTTP calls, an independent TOTP, token forgery, DB peeks. */

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
  ms: number;
}

export function api(apiUrl: string) {
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    const started = performance.now();
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    return {
      status: res.status,
      body: (text ? JSON.parse(text) : null) as T,
      headers: res.headers,
      ms,
    };
  }
  return {
    call,
    post: <T = Record<string, unknown>>(path: string, body?: unknown, token?: string) =>
      call<T>("POST", path, { body: body ?? {}, token }),
    get: <T = Record<string, unknown>>(path: string, token?: string) =>
      call<T>("GET", path, { token }),
  };
}

export interface AuthBody {
  user: { id: string; email: string; roles: string[]; [key: string]: unknown };
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

let counter = 0;
export function newEmail(tag = "user"): string {
  counter += 1;
  return `${tag}.${counter}.${crypto.randomBytes(3).toString("hex")}@Example.com`;
}

export const PASSWORD = "correct horse battery staple";

/** RFC 6238 / RFC 4226 written here from the RFCs with node:crypto, not with the server's library. */
function base32Decode(input: string): Buffer {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of input.replace(/=+$/, "").toUpperCase()) {
    const value = alphabet.indexOf(ch);
    if (value < 0) throw new Error(`not base32: ${ch}`);
    bits += value.toString(2).padStart(5, "0");
  }
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= bits.length; i += 8) bytes.push(parseInt(bits.slice(i, i + 8), 2));
  return Buffer.from(bytes);
}

export function hotp(key: Buffer, counterValue: number, digits = 6): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counterValue));
  const mac = crypto.createHmac("sha1", key).update(message).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return binary.toString().padStart(digits, "0");
}

export function totpAt(secretBase32: string, step: number): string {
  return hotp(base32Decode(secretBase32), step);
}

export function currentStep(now = Date.now()): number {
  return Math.floor(now / 1000 / 30);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

export function unsignedToken(payload: Record<string, unknown>): string {
  return `${b64({ alg: "none", typ: "at+jwt" })}.${b64(payload)}.`;
}

/** The classic key-confusion forgery: HS256 with the public key's bytes as the HMAC secret. */
export function hsSignedWithPublicKey(
  payload: Record<string, unknown>,
  publicKey: string | Buffer,
  kid?: string,
): string {
  const head = `${b64({ alg: "HS256", typ: "at+jwt", ...(kid ? { kid } : {}) })}.${b64(payload)}`;
  const sig = crypto.createHmac("sha256", publicKey).update(head).digest("base64url");
  return `${head}.${sig}`;
}

export function decodeJwt(token: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
} {
  const [h, p] = token.split(".");
  return {
    header: JSON.parse(Buffer.from(h, "base64url").toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>,
  };
}

export async function sql<T = Record<string, unknown>>(
  dbUrl: string,
  text: string,
  values: unknown[] = [],
): Promise<T[]> {
  const client = new Client({ connectionString: dbUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}

/** The durable events the users service wrote to its outbox for one user (newest last). */
export async function outboxEvents(
  dbUrl: string,
  type: string,
  userId: string,
): Promise<Array<{ type: string; data: Record<string, unknown>; producer: string }>> {
  const rows = await sql<{
    payload: { type: string; data: Record<string, unknown>; producer: string };
  }>(
    dbUrl,
    `SELECT payload FROM users.outbox WHERE type = $1 AND payload->'data'->>'userId' = $2 ORDER BY created_at, id`,
    [type, userId],
  );
  return rows.map(row => row.payload);
}

export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise(resolve => setTimeout(resolve, 50));
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
