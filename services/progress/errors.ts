import { Errors } from "moleculer";
import type { LessonKind } from "../../models/lesson.model";

const { MoleculerClientError } = Errors;

/** An erased account's token may outlive it for a moment: progress answers as for no account. */
export const accountErased = (userId: string) =>
  new MoleculerClientError("This account has been erased", 401, "ACCOUNT_ERASED", { userId });

export const lessonNotFound = (id: string) =>
  new MoleculerClientError("Lesson not found", 404, "LESSON_NOT_FOUND", { id });

export const courseNotFound = (id: string) =>
  new MoleculerClientError("Course not found", 404, "COURSE_NOT_FOUND", { id });

export const certificateNotFound = (id: string) =>
  new MoleculerClientError("Certificate not found", 404, "CERTIFICATE_NOT_FOUND", { id });

export const cardNotFound = (lessonId: string, cardId: string) =>
  new MoleculerClientError("Card not found", 404, "CARD_NOT_FOUND", { lessonId, cardId });

export const lessonNotGradable = (id: string, kind: LessonKind) =>
  new MoleculerClientError("This lesson has no questions to grade", 409, "LESSON_NOT_GRADABLE", {
    id,
    kind,
  });

export const lessonRequiresAttempt = (id: string, kind: LessonKind) =>
  new MoleculerClientError(
    "A quiz is completed by passing an attempt",
    409,
    "LESSON_REQUIRES_ATTEMPT",
    {
      id,
      kind,
    },
  );

export const idempotencyKeyReused = () =>
  new MoleculerClientError(
    "This Idempotency-Key was used for a different request",
    409,
    "IDEMPOTENCY_KEY_REUSED",
  );

/** api.md: a premium course without the premium entitlement (billing) is 402. */
export const premiumRequired = (courseId: string) =>
  new MoleculerClientError(
    "This course is part of Premium: subscribe to learn it",
    402,
    "PAYMENT_REQUIRED",
    { courseId },
  );

/** api.md: attempting or completing a lesson whose required lessons are not all completed. */
export const lessonLocked = (id: string, requires: string[]) =>
  new MoleculerClientError("Complete the lessons this one requires first", 409, "LESSON_LOCKED", {
    id,
    requires,
  });

/** POST /me/practice: no completed quiz (or none practising the skill asked for) has questions to draw. */
export const nothingToPractise = (skill: string | null) =>
  new MoleculerClientError(
    skill
      ? `No completed lesson has questions on the skill "${skill}"`
      : "Complete a quiz first: practice draws on lessons you have done",
    409,
    "NOTHING_TO_PRACTISE",
    { skill },
  );

/** A practice quiz is graded once. */
export const practiceGraded = (id: string) =>
  new MoleculerClientError("This practice quiz has been graded already", 409, "PRACTICE_GRADED", {
    id,
  });

/** Someone else's placement test answers as one that does not exist (api.md, Ownership). */
export const placementNotFound = (id: string) =>
  new MoleculerClientError("Placement test not found", 404, "PLACEMENT_NOT_FOUND", { id });

export const placementFinished = (id: string) =>
  new MoleculerClientError("This placement test is finished", 409, "PLACEMENT_FINISHED", { id });

/** An answer must be to the question the test asks now (an old or unknown question is refused). */
export const notTheQuestionAsked = (id: string, questionId: string) =>
  new MoleculerClientError(
    "Answer the question this test asks now",
    409,
    "PLACEMENT_QUESTION_MISMATCH",
    { id, questionId },
  );

/** Content holds no placement bank (it loads one when it starts): nothing to test with yet. */
export const placementUnavailable = () =>
  new Errors.MoleculerError(
    "The placement bank is not available yet",
    503,
    "PLACEMENT_UNAVAILABLE",
  );
