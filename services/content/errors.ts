import { Errors } from "moleculer";

/** Not found — also what someone else's draft answers, so its existence does not leak. */

export const courseNotFound = (id: string) =>
  new Errors.MoleculerClientError("Course not found", 404, "COURSE_NOT_FOUND", { id });
export const lessonNotFound = (id: string) =>
  new Errors.MoleculerClientError("Lesson not found", 404, "LESSON_NOT_FOUND", { id });
export const mediaNotFound = (id: string) =>
  new Errors.MoleculerClientError("Media not found", 404, "MEDIA_NOT_FOUND", { id });
