import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { AppConfig } from "../../lib/config";
import { EMAIL_CATEGORIES, type EmailCategory } from "../../models/email.model";

/**
 * Signed, unguessable tokens in the links of a mail (open pixel, click-through,
 * unsubscribe). A token is `base64url(JSON payload) "." base64url(HMAC-SHA256)`: it
 * names what it is for, and only this service can mint one.
 *
 * The key needs no new secret: in cluster mode it is derived with HKDF from
 * JWT_PRIVATE_KEY (every node has it, and rotating that key also rotates these
 * tokens); on the embedded defaults it is a random key kept in DATA_DIR/notify.
 */

export type LinkToken =
  | { kind: "open"; mailId: string }
  | { kind: "click"; mailId: string; url: string }
  | { kind: "unsubscribe"; mailId: string; userId: string; category: EmailCategory };

type Wire = ["o", string] | ["c", string, string] | ["u", string, string, string];

const HKDF_SALT = "lingomesh/notify";
const HKDF_INFO = "mail-link-tokens/v1";

export function deriveLinkKey(cfg: AppConfig): Buffer {
  if (cfg.jwtPrivateKey) {
    return Buffer.from(
      crypto.hkdfSync("sha256", Buffer.from(cfg.jwtPrivateKey), HKDF_SALT, HKDF_INFO, 32),
    );
  }
  if (cfg.clusterMode) {
    // Every node must sign and verify alike; a key made up here would differ per node.
    throw new Error(
      "notify: JWT_PRIVATE_KEY is needed in cluster mode to derive the mail link signing key",
    );
  }
  const file = path.join(cfg.dataDir, "notify", "link-signing.key");
  fs.mkdirSync(path.dirname(file), { recursive: true });
  try {
    fs.writeFileSync(file, crypto.randomBytes(32).toString("base64"), { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  if (key.length < 32)
    throw new Error(`notify: ${file} does not hold a 32-byte key; delete it to make a new one`);
  return key;
}

export class LinkTokens {
  constructor(private readonly key: Buffer) {}

  sign(token: LinkToken): string {
    const wire: Wire =
      token.kind === "open"
        ? ["o", token.mailId]
        : token.kind === "click"
          ? ["c", token.mailId, token.url]
          : ["u", token.mailId, token.userId, token.category];
    const payload = Buffer.from(JSON.stringify(wire)).toString("base64url");
    return `${payload}.${this.mac(payload)}`;
  }

  /** The token's content, or null for anything not minted by this key (never throws). */
  verify(token: string): LinkToken | null {
    const dot = token.indexOf(".");
    if (dot <= 0 || token.length > 4096) return null;
    const payload = token.slice(0, dot);
    const given = Buffer.from(token.slice(dot + 1), "base64url");
    const expected = Buffer.from(this.mac(payload), "base64url");
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return null;
    let wire: unknown;
    try {
      wire = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
    } catch {
      return null;
    }
    if (!Array.isArray(wire) || !wire.every(part => typeof part === "string")) return null;
    const [kind, mailId, a, b] = wire as string[];
    if (kind === "o" && wire.length === 2) return { kind: "open", mailId };
    if (kind === "c" && wire.length === 3) return { kind: "click", mailId, url: a };
    if (kind === "u" && wire.length === 4 && (EMAIL_CATEGORIES as readonly string[]).includes(b)) {
      return { kind: "unsubscribe", mailId, userId: a, category: b as EmailCategory };
    }
    return null;
  }

  private mac(payload: string): string {
    return crypto.createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}
