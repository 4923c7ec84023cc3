import path from "node:path";
import type { AppConfig } from "../config";
import { FileStorage } from "./file-storage";
import type { MediaStorage } from "./media-storage";
import type { S3Storage } from "./s3-storage";

export type { MediaStorage } from "./media-storage";

export function createMediaStorage(cfg: AppConfig): MediaStorage {
  if (cfg.s3) {
    // The AWS SDK costs a node ~30 MiB: loaded only by the nodes configured for S3.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3Storage: Storage } = require("./s3-storage") as { S3Storage: typeof S3Storage };
    return new Storage(cfg.s3);
  }
  return new FileStorage(path.join(cfg.dataDir, "media"));
}
