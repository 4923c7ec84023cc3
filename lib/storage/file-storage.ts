import fs from "node:fs";
import path from "node:path";
import type { Readable } from "node:stream";
import type { MediaStorage, StoredRange } from "./media-storage";

/** The embedded default: one file per object under DATA_DIR/media. */
export class FileStorage implements MediaStorage {
  readonly kind = "file" as const;

  constructor(private readonly dir: string) {}

  private file(key: string): string {
    // Keys are generated ids; refuse anything that could step out of the directory.
    if (!/^[A-Za-z0-9._-]+$/.test(key) || key.startsWith("."))
      throw new Error(`invalid media key "${key}"`);
    return path.join(this.dir, key);
  }

  async start(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
  }

  async put(key: string, body: Buffer): Promise<void> {
    const target = this.file(key);
    const temp = `${target}.${process.pid}.tmp`;
    // Write then rename: a reader never sees half a file.
    await fs.promises.writeFile(temp, body);
    await fs.promises.rename(temp, target);
  }

  async get(key: string, range?: StoredRange): Promise<{ body: Readable; size: number } | null> {
    const target = this.file(key);
    const stat = await this.stat(key);
    if (!stat) return null;
    return { body: fs.createReadStream(target, range ?? {}), size: stat.size };
  }

  async stat(key: string): Promise<{ size: number } | null> {
    try {
      return { size: (await fs.promises.stat(this.file(key))).size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
      throw err;
    }
  }

  async ping(): Promise<void> {
    await fs.promises.access(this.dir, fs.constants.W_OK);
  }

  async stop(): Promise<void> {}
}
