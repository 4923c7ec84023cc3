import fs from "node:fs";
import path from "node:path";
import { generateVAPIDKeys } from "web-push";
import type { AppConfig } from "../../lib/config";

/**
 * The VAPID key pair (RFC 8292) notify signs its pushes with. From VAPID_PUBLIC_KEY and
 * VAPID_PRIVATE_KEY when set; otherwise, on a single node only, made once and kept under
 * DATA_DIR/keys/vapid.json (0600). Browsers bind each subscription to the public key, so in
 * cluster mode a key made up by one node would break every other node's pushes: there, without
 * the variables, Web Push is off (null; its routes answer 503) and the rest of notify runs.
 */

export interface VapidKeys {
  publicKey: string;
  privateKey: string;
  subject: string;
}

export function loadVapidKeys(cfg: AppConfig): VapidKeys | null {
  if (cfg.vapid) return { ...cfg.vapid, subject: cfg.vapidSubject };
  if (cfg.clusterMode) return null;
  const dir = path.join(cfg.dataDir, "keys");
  const file = path.join(dir, "vapid.json");
  if (!fs.existsSync(file)) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    try {
      // "wx": two processes starting at once on one DATA_DIR keep the same key.
      fs.writeFileSync(file, JSON.stringify(generateVAPIDKeys()), { mode: 0o600, flag: "wx" });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
  const kept = JSON.parse(fs.readFileSync(file, "utf8")) as {
    publicKey: string;
    privateKey: string;
  };
  return { publicKey: kept.publicKey, privateKey: kept.privateKey, subject: cfg.vapidSubject };
}
