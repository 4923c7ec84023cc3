import type { Readable } from "node:stream";
import { Errors } from "moleculer";
import { fileTypeFromBuffer } from "file-type/core";
import { v7 as uuidv7 } from "uuid";
import {
  MEDIA_MAX_BYTES,
  MEDIA_TYPES,
  type MediaRecord,
  type MediaRef,
} from "../../models/media.model";
import type { ContentThis } from "./context";
import { mediaNotFound } from "./errors";
import { mediaRef } from "./views";

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

/** An author's upload: checked by its bytes, stored, recorded. */
export async function saveUpload(
  svc: ContentThis,
  ownerId: string,
  stream: Readable | null,
  filename: string | undefined,
): Promise<MediaRef> {
  if (!stream) {
    throw new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
      { type: "required", field: "file", message: "Send the file as multipart/form-data." },
    ]);
  }
  const bytes = await readUpload(stream);
  const contentType = await sniffMediaType(bytes);
  const id = uuidv7();
  const media: MediaRecord = {
    id,
    ownerId,
    contentType,
    size: bytes.length,
    storageKey: id,
    filename: filename ?? null,
    createdAt: new Date().toISOString(),
  };
  await svc.storage.put(media.storageKey, bytes, contentType);
  await svc.repo.insertMedia(media);
  return mediaRef(svc.publicUrl, media);
}

/** An upload's bytes and the headers they go with. */
export async function openMedia(
  svc: ContentThis,
  id: string,
): Promise<{ contentType: string; headers: Record<string, string>; body: Readable }> {
  const media = await svc.repo.getMedia(id);
  const object = media ? await svc.storage.get(media.storageKey) : null;
  if (!media || !object) throw mediaNotFound(id);
  return {
    contentType: media.contentType,
    // Uploads never change (a new upload gets a new id), so clients may keep them.
    headers: {
      "Content-Length": String(media.size),
      "Cache-Control": "public, max-age=31536000, immutable",
      "X-Content-Type-Options": "nosniff",
    },
    body: object.body,
  };
}
