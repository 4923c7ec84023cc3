import type { CourseSummary } from "./progress.model";

/** POST /courses/:id/enroll → 201 (200 when already enrolled) */
export interface Enrollment {
  id: string;
  courseId: string;
  enrolledAt: string;
  completedAt: string | null;
}

/** One row of GET /me/courses. */
export interface EnrolledCourse {
  course: Pick<CourseSummary, "id" | "title" | "level"> & Partial<CourseSummary>;
  enrolledAt: string;
  completedAt: string | null;
  completedLessons: number;
  totalLessons: number;
  /** completedLessons / totalLessons, 0..1. */
  completion: number;
}
