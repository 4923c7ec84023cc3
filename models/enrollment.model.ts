import type { CourseBrief } from "./course.model";

/** POST /courses/:id/enroll → 201 (200 when already enrolled) */
export interface Enrollment {
  id: string;
  courseId: string;
  enrolledAt: string;
  completedAt: string | null;
}

/** One row of GET /me/courses. */
export interface EnrolledCourse {
  /** Content's brief, or this node's copy when content cannot answer (level "" if it has none). */
  course: CourseBrief | { id: string; title: string; level: string; version?: number };
  enrolledAt: string;
  completedAt: string | null;
  completedLessons: number;
  totalLessons: number;
  /** completedLessons / totalLessons, 0..1. */
  completion: number;
}
