/** Uploads are capped at 20 MiB (api.md: POST /media). */
export const MEDIA_MAX_BYTES = 20 * 1024 * 1024;

/** What may be uploaded, as detected from the bytes (file-type), never from the name. */
export const MEDIA_TYPES: Record<string, "image" | "audio"> = {
  "image/png": "image",
  "image/jpeg": "image",
  "image/gif": "image",
  "image/webp": "image",
  "image/avif": "image",
  "audio/mpeg": "audio",
  "audio/ogg": "audio",
  "audio/opus": "audio",
  "audio/wav": "audio",
  "audio/x-wav": "audio",
  "audio/vnd.wave": "audio",
  "audio/flac": "audio",
  "audio/x-flac": "audio",
  "audio/aac": "audio",
  "audio/mp4": "audio",
  "audio/x-m4a": "audio",
  "audio/webm": "audio",
};

export interface MediaRecord {
  id: string;
  ownerId: string;
  contentType: string;
  size: number;
  /** Key in the media storage (S3 object key or file name under DATA_DIR/media). */
  storageKey: string;
  filename: string | null;
  createdAt: string;
}

/** The answer of POST /media and how lessons show their media. */
export interface MediaRef {
  id: string;
  url: string;
  contentType: string;
  size: number;
}
