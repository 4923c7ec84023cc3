import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { importJWK, jwtVerify } from "jose";

/**
 * A push service on loopback that does what a browser vendor's does with a push: checks the
 * VAPID signature (RFC 8292: `Authorization: vapid t=<JWT>, k=<public key>`), then decrypts the
 * body (RFC 8291 over RFC 8188 aes128gcm) with the subscription's private key and auth secret,
 * which only the "browser" (this double) holds. Each device is a path `/push/<device>`.
 */

interface Device {
  name: string;
  /** What a browser's PushSubscription.toJSON() gives the app. */
  subscription: { endpoint: string; expirationTime: null; keys: { p256dh: string; auth: string } };
}

interface ReceivedPush {
  device: string;
  ttl: number;
  urgency: string | undefined;
  /** The VAPID JWT's claims, after its signature checked out against `k`. */
  vapid: { aud: string; sub: string; exp: number; k: string };
  /** The decrypted payload, parsed. */
  payload: Record<string, unknown>;
}

export interface PushService {
  origin: string;
  received: ReceivedPush[];
  /** Refusals: a push service error answer or a decryption/VAPID failure. */
  refused: Array<{ device: string; reason: string }>;
  newDevice(name: string): Device;
  /** The next `count` pushes to the device are answered with `status`. */
  answer(device: string, status: number, count?: number): void;
  close(): Promise<void>;
}

const hmac = (key: Buffer, data: Buffer): Buffer =>
  crypto.createHmac("sha256", key).update(data).digest();

/** RFC 8291 §3.4 and RFC 8188 §2: the content key and nonce, then AES-128-GCM of one record. */
function decrypt(body: Buffer, ua: crypto.ECDH, authSecret: Buffer): Buffer {
  const salt = body.subarray(0, 16);
  const idLength = body[20];
  const asPublic = body.subarray(21, 21 + idLength);
  const ciphertext = body.subarray(21 + idLength);
  const uaPublic = ua.getPublicKey();
  const ecdhSecret = ua.computeSecret(asPublic);
  const prkKey = hmac(authSecret, ecdhSecret);
  const keyInfo = Buffer.concat([
    Buffer.from("WebPush: info\0"),
    uaPublic,
    asPublic,
    Buffer.from([1]),
  ]);
  const ikm = hmac(prkKey, keyInfo);
  const prk = hmac(salt, ikm);
  const cek = hmac(prk, Buffer.from("Content-Encoding: aes128gcm\0\x01", "latin1")).subarray(0, 16);
  const nonce = hmac(prk, Buffer.from("Content-Encoding: nonce\0\x01", "latin1")).subarray(0, 12);
  const decipher = crypto.createDecipheriv("aes-128-gcm", cek, nonce);
  decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
  const padded = Buffer.concat([
    decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
    decipher.final(),
  ]);
  // The last record ends with the delimiter 0x02, then zero padding.
  let end = padded.length - 1;
  while (end >= 0 && padded[end] === 0) end--;
  if (padded[end] !== 2) throw new Error("no last-record delimiter");
  return padded.subarray(0, end);
}

async function checkVapid(header: string | undefined, origin: string) {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? "");
  if (!match) throw new Error(`no VAPID authorization (${header ?? "none"})`);
  const [, token, k] = match;
  const point = Buffer.from(k, "base64url");
  const key = await importJWK(
    {
      kty: "EC",
      crv: "P-256",
      x: point.subarray(1, 33).toString("base64url"),
      y: point.subarray(33, 65).toString("base64url"),
    },
    "ES256",
  );
  const { payload } = await jwtVerify(token, key, { algorithms: ["ES256"], audience: origin });
  const exp = payload.exp ?? 0;
  if (exp * 1000 > Date.now() + 24 * 3600_000) throw new Error("VAPID exp more than 24 h ahead");
  return { aud: String(payload.aud), sub: String(payload.sub), exp, k };
}

export async function startPushService(): Promise<PushService> {
  const devices = new Map<string, { ecdh: crypto.ECDH; auth: Buffer }>();
  const answers = new Map<string, { status: number; count: number }>();
  const received: ReceivedPush[] = [];
  const refused: PushService["refused"] = [];
  let origin = "";

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const name = decodeURIComponent((req.url ?? "").replace(/^\/push\//, ""));
      const reply = (status: number) => {
        res.writeHead(status, { Location: `${origin}/message/${crypto.randomUUID()}` });
        res.end();
      };
      const planned = answers.get(name);
      if (planned && planned.count > 0) {
        planned.count--;
        refused.push({ device: name, reason: `answered ${planned.status}` });
        return reply(planned.status);
      }
      const device = devices.get(name);
      if (!device) return reply(404);
      void (async () => {
        try {
          if (req.headers["content-encoding"] !== "aes128gcm") {
            throw new Error(`content-encoding ${req.headers["content-encoding"]}`);
          }
          const vapid = await checkVapid(req.headers.authorization, origin);
          const plain = decrypt(Buffer.concat(chunks), device.ecdh, device.auth);
          received.push({
            device: name,
            ttl: Number(req.headers.ttl),
            urgency: req.headers.urgency as string | undefined,
            vapid,
            payload: JSON.parse(plain.toString("utf8")) as Record<string, unknown>,
          });
          reply(201);
        } catch (err) {
          refused.push({ device: name, reason: (err as Error).message });
          reply(400);
        }
      })();
    });
  });
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    origin,
    received,
    refused,
    newDevice(name) {
      const ecdh = crypto.createECDH("prime256v1");
      ecdh.generateKeys();
      const auth = crypto.randomBytes(16);
      devices.set(name, { ecdh, auth });
      return {
        name,
        subscription: {
          endpoint: `${origin}/push/${encodeURIComponent(name)}`,
          expirationTime: null,
          keys: {
            p256dh: ecdh.getPublicKey().toString("base64url"),
            auth: auth.toString("base64url"),
          },
        },
      };
    },
    answer(device, status, count = 1) {
      answers.set(device, { status, count });
    },
    close: () =>
      new Promise<void>(resolve => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
