import type { Readable } from "node:stream";
import { Errors } from "moleculer";
import { fileTypeFromBuffer } from "file-type/core";
import { MEDIA_MAX_BYTES, MEDIA_TYPES } from "../../models/media.model";

/** Reads an upload into memory, refusing (413) as soon as it passes the limit. */
export async function readUpload(stream: Readable, limit = MEDIA_MAX_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      stream.destroy();
      throw new Errors.MoleculerClientError(
        `A file may be at most ${limit / 1024 / 1024} MiB.`,
        413,
        "PAYLOAD_TOO_LARGE",
        {
          limit,
        },
      );
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** The media type from the bytes (the file name and the client's claim are ignored). */
export async function sniffMediaType(bytes: Buffer): Promise<string> {
  if (bytes.length === 0) {
    throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
      { type: "required", field: "file", message: "The file is empty." },
    ]);
  }
  const detected = await fileTypeFromBuffer(bytes);
  if (!detected || !(detected.mime in MEDIA_TYPES)) {
    throw new Errors.MoleculerClientError(
      "Only images (PNG, JPEG, GIF, WebP, AVIF) and audio (MP3, OGG, Opus, WAV, FLAC, AAC, M4A, WebM) can be uploaded.",
      415,
      "UNSUPPORTED_MEDIA_TYPE",
      { detected: detected?.mime ?? null },
    );
  }
  return detected.mime;
}
