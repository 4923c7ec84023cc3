import { Errors } from "moleculer";

/** Not found — also what someone else's draft answers, so its existence does not leak. */

export const courseNotFound = (id: string) =>
  new Errors.MoleculerClientError("Course not found", 404, "COURSE_NOT_FOUND", { id });
export const lessonNotFound = (id: string) =>
  new Errors.MoleculerClientError("Lesson not found", 404, "LESSON_NOT_FOUND", { id });
export const mediaNotFound = (id: string) =>
  new Errors.MoleculerClientError("Media not found", 404, "MEDIA_NOT_FOUND", { id });

export const fileTooLarge = (limit: number) =>
  new Errors.MoleculerClientError(
    `A file may be at most ${limit / 1024 / 1024} MiB.`,
    413,
    "PAYLOAD_TOO_LARGE",
    { limit },
  );

/** The type sniffed from the bytes (null: none recognised) is not one the API serves. */
export const unsupportedMediaType = (detected: string | null) =>
  new Errors.MoleculerClientError(
    "Only images (PNG, JPEG, GIF, WebP, AVIF) and audio (MP3, OGG, Opus, WAV, FLAC, AAC, M4A, WebM) can be uploaded.",
    415,
    "UNSUPPORTED_MEDIA_TYPE",
    { detected },
  );

export const rangeNotSatisfiable = (size: number) =>
  new Errors.MoleculerClientError(
    "The requested range starts past the end of the file.",
    416,
    "RANGE_NOT_SATISFIABLE",
    { size },
  );
