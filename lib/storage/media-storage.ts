import type { Readable } from "node:stream";

/** Byte offsets, both inclusive, as in HTTP's Range. */
export interface StoredRange {
  start: number;
  end: number;
}

/** Where uploaded media bytes live: S3-compatible storage, or files under DATA_DIR/media. */
export interface MediaStorage {
  readonly kind: "s3" | "file";
  /** Prepares the store (creates the bucket or directory). */
  start(): Promise<void>;
  put(key: string, body: Buffer, contentType: string): Promise<void>;
  /** The bytes of an object (only `start` to `end`, inclusive, when given), or null when there is none. */
  get(key: string, range?: StoredRange): Promise<{ body: Readable; size?: number } | null>;
  /** An object's size without reading it (HEAD), or null when there is none. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Throws when the store does not answer (readiness). */
  ping(): Promise<void>;
  stop(): Promise<void>;
}
