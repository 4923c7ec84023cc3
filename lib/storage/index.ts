import path from "node:path";
import type { Readable } from "node:stream";
import type { AppConfig } from "../config";
import { FileStorage } from "./file-storage";
import type { S3Storage } from "./s3-storage";

/** Where uploaded media bytes live: S3-compatible storage, or files under DATA_DIR/media. */
export interface MediaStorage {
  readonly kind: "s3" | "file";
  /** Prepares the store (creates the bucket or directory). */
  start(): Promise<void>;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The bytes of an object, or null when there is none. */
  get(key: string): Promise<{ body: Readable; size?: number } | null>;
  /** Throws when the store does not answer (readiness). */
  ping(): Promise<void>;
  stop(): Promise<void>;
}

export function createMediaStorage(cfg: AppConfig): MediaStorage {
  if (cfg.s3) {
    // The AWS SDK costs a node ~30 MiB: loaded only by the nodes configured for S3.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3Storage: Storage } = require("./s3-storage") as { S3Storage: typeof S3Storage };
    return new Storage(cfg.s3);
  }
  return new FileStorage(path.join(cfg.dataDir, "media"));
}

export { FileStorage } from "./file-storage";
export type { S3Storage } from "./s3-storage";
