import type { Readable } from "node:stream";
import { fileTypeFromBuffer } from "file-type/core";
import { v7 as uuidv7 } from "uuid";
import { validationError } from "../../lib/errors";
import type { AuthUser } from "../../models/auth.model";
import {
  MEDIA_MAX_BYTES,
  MEDIA_TYPES,
  type MediaRecord,
  type MediaRef,
} from "../../models/media.model";
import type { Ctx } from "./context";
import type { ContentDeps } from "./deps";
import { fileTooLarge, mediaNotFound, rangeNotSatisfiable, unsupportedMediaType } from "./errors";
import { byteRangeOf } from "./byte-range";
import { mediaRef } from "./views";

/** What the media use cases read and write: the records and the stored bytes. */
type MediaDeps = Pick<ContentDeps, "repo" | "storage" | "publicUrl">;

/** Reads an upload into memory, refusing (413) as soon as it passes the limit. */
async function readUpload(stream: Readable, limit = MEDIA_MAX_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    size += buf.length;
    if (size > limit) {
      stream.destroy();
      throw fileTooLarge(limit);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** The media type from the bytes (the file name and the client's claim are ignored). */
async function sniffMediaType(bytes: Buffer): Promise<string> {
  if (bytes.length === 0) {
    throw validationError([{ type: "required", field: "file", message: "The file is empty." }]);
  }
  const detected = await fileTypeFromBuffer(bytes);
  if (!detected || !(detected.mime in MEDIA_TYPES)) {
    throw unsupportedMediaType(detected?.mime ?? null);
  }
  return detected.mime;
}

/** An author's upload: checked by its bytes, stored, recorded. */
export async function saveUpload(
  deps: MediaDeps,
  { stream, filename }: { stream: Readable | null; filename: string | undefined },
  actor: AuthUser,
): Promise<MediaRef> {
  if (!stream) {
    throw validationError([
      { type: "required", field: "file", message: "Send the file as multipart/form-data." },
    ]);
  }
  const bytes = await readUpload(stream);
  const contentType = await sniffMediaType(bytes);
  const id = uuidv7();
  const media: MediaRecord = {
    id,
    ownerId: actor.id,
    contentType,
    size: bytes.length,
    storageKey: id,
    filename: filename ?? null,
    createdAt: new Date().toISOString(),
  };
  await deps.storage.put(media.storageKey, bytes, contentType);
  await deps.repo.insertMedia(media);
  return mediaRef(deps.publicUrl, media);
}

/** What GET or HEAD answers for an upload: status, headers and (GET only) the bytes. */
export interface MediaAnswer {
  status: 200 | 206;
  contentType: string;
  headers: Record<string, string>;
  body: Readable | null;
}

function mediaHeaders(media: MediaRecord): Record<string, string> {
  return {
    "Content-Type": media.contentType,
    "Content-Length": String(media.size),
    "Accept-Ranges": "bytes",
    // Uploads never change (a new upload gets a new id), so clients may keep them.
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
  };
}

/**
 * GET /media/:id: the whole upload, or the one byte range the request's `Range` names
 * (206 with Content-Range; 416 when it starts past the end) — audio players seek, and
 * iOS Safari plays audio only through ranges.
 */
export async function openMedia(
  deps: MediaDeps,
  { id }: { id: string },
  request: { range?: string; "if-range"?: string } = {},
): Promise<MediaAnswer> {
  const media = await deps.repo.getMedia(id);
  if (!media) throw mediaNotFound(id);
  const range = byteRangeOf(request.range, request["if-range"], media.size);
  if (range.kind === "unsatisfiable") throw rangeNotSatisfiable(media.size);
  const part = range.kind === "part" ? { start: range.start, end: range.end } : undefined;
  const object = await deps.storage.get(media.storageKey, part);
  if (!object) throw mediaNotFound(id);
  const headers = mediaHeaders(media);
  if (!part) return { status: 200, contentType: media.contentType, headers, body: object.body };
  headers["Content-Length"] = String(part.end - part.start + 1);
  headers["Content-Range"] = `bytes ${part.start}-${part.end}/${media.size}`;
  return { status: 206, contentType: media.contentType, headers, body: object.body };
}

/** HEAD /media/:id: the headers of the whole file's GET, without opening the bytes. */
export async function headMedia(deps: MediaDeps, { id }: { id: string }): Promise<MediaAnswer> {
  const media = await deps.repo.getMedia(id);
  const object = media ? await deps.storage.stat(media.storageKey) : null;
  if (!media || !object) throw mediaNotFound(id);
  return { status: 200, contentType: media.contentType, headers: mediaHeaders(media), body: null };
}

/**
 * Hands an answer to moleculer-web. Content-Type goes in the headers as well: a HEAD's
 * empty body ends the response before moleculer-web would set it from $responseType.
 */
export function answerMedia(ctx: Ctx<unknown>, answer: MediaAnswer): Readable | null {
  ctx.meta.$responseType = answer.contentType;
  ctx.meta.$responseHeaders = answer.headers;
  if (answer.status !== 200) ctx.meta.$statusCode = answer.status;
  return answer.body;
}
