import type { Transaction } from "sequelize";
import type { CefrLevel } from "../../../models/course.model";
import { exec, one, rows, S, type Db } from "./sql";

/** Progress's copy of published courses (lesson lists) and the learners' enrollments. */

export interface CourseRow {
  course_id: string;
  title: string;
  level: string;
  version: number;
  lessons_version: number;
}

export async function findCourse(
  db: Db,
  courseId: string,
  t?: Transaction,
): Promise<CourseRow | undefined> {
  return one<CourseRow>(
    db,
    `SELECT course_id, title, level, version, lessons_version FROM ${S}.courses WHERE course_id = :courseId`,
    { courseId },
    t,
  );
}

/**
 * A newer published version is known (from the event): its lessons are fetched on next use.
 * An older version's event arriving late changes nothing (events.md: consumers ignore older versions).
 */
export async function markCoursePublished(
  db: Db,
  c: { courseId: string; version: number; title: string; level: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.courses (course_id, title, level, version) VALUES (:courseId, :title, :level, :version)
     ON CONFLICT (course_id) DO UPDATE SET title = EXCLUDED.title, level = EXCLUDED.level,
       version = EXCLUDED.version, updated_at = now()
     WHERE courses.version <= EXCLUDED.version`,
    c,
    t,
  );
}

/** Replaces the lesson list of a course with that of a published version (never an older one). */
export async function saveCourseOutline(
  db: Db,
  o: {
    id: string;
    title: string;
    level: string;
    version: number;
    lessons: Array<{ id: string; kind: string }>;
  },
  t: Transaction,
): Promise<void> {
  const current = await one<{ lessons_version: number }>(
    db,
    `SELECT lessons_version FROM ${S}.courses WHERE course_id = :id FOR UPDATE`,
    { id: o.id },
    t,
  );
  if (current && current.lessons_version > o.version) return;
  await exec(
    db,
    `INSERT INTO ${S}.courses (course_id, title, level, version, lessons_version) VALUES (:id, :title, :level, :version, :version)
     ON CONFLICT (course_id) DO UPDATE SET title = EXCLUDED.title, level = EXCLUDED.level,
       version = GREATEST(courses.version, EXCLUDED.version), lessons_version = EXCLUDED.lessons_version, updated_at = now()`,
    { id: o.id, title: o.title, level: o.level, version: o.version },
    t,
  );
  await exec(db, `DELETE FROM ${S}.course_lessons WHERE course_id = :id`, { id: o.id }, t);
  for (const lesson of o.lessons) {
    await exec(
      db,
      `INSERT INTO ${S}.course_lessons (course_id, lesson_id, kind) VALUES (:courseId, :lessonId, :kind) ON CONFLICT DO NOTHING`,
      { courseId: o.id, lessonId: lesson.id, kind: lesson.kind },
      t,
    );
  }
}

export async function dropLesson(db: Db, lessonId: string, t: Transaction): Promise<void> {
  await exec(db, `DELETE FROM ${S}.course_lessons WHERE lesson_id = :lessonId`, { lessonId }, t);
  await exec(db, `DELETE FROM ${S}.review_cards WHERE lesson_id = :lessonId`, { lessonId }, t);
  await exec(
    db,
    `DELETE FROM ${S}.question_difficulty WHERE lesson_id = :lessonId`,
    { lessonId },
    t,
  );
}

export interface EnrollmentRow {
  id: string;
  user_id: string;
  course_id: string;
  enrolled_at: Date;
  completed_at: Date | null;
  cards_version: number;
}

export async function insertEnrollment(
  db: Db,
  e: { id: string; userId: string; courseId: string; at: Date },
  t: Transaction,
): Promise<EnrollmentRow | undefined> {
  return one<EnrollmentRow>(
    db,
    `INSERT INTO ${S}.enrollments (id, user_id, course_id, enrolled_at) VALUES (:id, :userId, :courseId, :at)
     ON CONFLICT (user_id, course_id) DO NOTHING RETURNING *`,
    e,
    t,
  );
}

export async function findEnrollment(
  db: Db,
  userId: string,
  courseId: string,
  t?: Transaction,
): Promise<EnrollmentRow | undefined> {
  return one<EnrollmentRow>(
    db,
    `SELECT * FROM ${S}.enrollments WHERE user_id = :userId AND course_id = :courseId`,
    { userId, courseId },
    t,
  );
}

export async function setCardsVersion(
  db: Db,
  enrollmentId: string,
  version: number,
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `UPDATE ${S}.enrollments SET cards_version = GREATEST(cards_version, :version) WHERE id = :enrollmentId`,
    { enrollmentId, version },
    t,
  );
}

/** Completed lessons and total lessons (of the published version) for each of a learner's courses. */
export async function completionCounts(
  db: Db,
  userId: string,
  courseIds: string[],
  t?: Transaction,
): Promise<Map<string, { completed: number; total: number }>> {
  const result = new Map<string, { completed: number; total: number }>();
  if (courseIds.length === 0) return result;
  const counted = await rows<{ course_id: string; total: string; completed: string }>(
    db,
    `SELECT cl.course_id, COUNT(*) AS total, COUNT(lc.lesson_id) AS completed
     FROM ${S}.course_lessons cl
     LEFT JOIN ${S}.lesson_completions lc ON lc.lesson_id = cl.lesson_id AND lc.user_id = :userId
     WHERE cl.course_id IN (:courseIds) GROUP BY cl.course_id`,
    { userId, courseIds },
    t,
  );
  for (const row of counted)
    result.set(row.course_id, { completed: Number(row.completed), total: Number(row.total) });
  return result;
}

/** Marks the course completed once; true when this call did it. */
export async function completeEnrollment(
  db: Db,
  userId: string,
  courseId: string,
  at: Date,
  t: Transaction,
): Promise<boolean> {
  const row = await one<{ id: string }>(
    db,
    `UPDATE ${S}.enrollments SET completed_at = :at WHERE user_id = :userId AND course_id = :courseId AND completed_at IS NULL RETURNING id`,
    { userId, courseId, at },
    t,
  );
  return row !== undefined;
}

/** Enrollments whose cards are of an older version than the course we know (usually none). */
export async function enrollmentsWithNewDecks(db: Db, userId: string): Promise<EnrollmentRow[]> {
  return rows<EnrollmentRow>(
    db,
    `SELECT e.* FROM ${S}.enrollments e JOIN ${S}.courses c ON c.course_id = e.course_id
     WHERE e.user_id = :userId AND e.cards_version < c.version ORDER BY e.enrolled_at DESC`,
    { userId },
  );
}

/** One enrollment with our copy of its course (absent: `course` undefined) and its completion. */
export interface EnrolledCourseRow {
  enrollment: EnrollmentRow;
  course: CourseRow | undefined;
  completed: number;
  total: number;
}

/**
 * The learner's enrollments, newest first, each with our copy of the course and the lessons
 * completed of its lesson list — one round trip for what the course list shows.
 */
export async function enrolledCoursesOf(
  db: Db,
  userId: string,
  t?: Transaction,
): Promise<EnrolledCourseRow[]> {
  const found = await rows<
    EnrollmentRow & {
      c_course_id: string | null;
      c_title: string;
      c_level: string;
      c_version: number;
      c_lessons_version: number;
      total: string;
      completed: string;
    }
  >(
    db,
    `SELECT e.*, c.course_id AS c_course_id, c.title AS c_title, c.level AS c_level,
            c.version AS c_version, c.lessons_version AS c_lessons_version, n.total, n.completed
     FROM ${S}.enrollments e
     LEFT JOIN ${S}.courses c ON c.course_id = e.course_id
     CROSS JOIN LATERAL (
       SELECT COUNT(*) AS total, COUNT(lc.lesson_id) AS completed
       FROM ${S}.course_lessons cl
       LEFT JOIN ${S}.lesson_completions lc ON lc.lesson_id = cl.lesson_id AND lc.user_id = :userId
       WHERE cl.course_id = e.course_id
     ) n
     WHERE e.user_id = :userId ORDER BY e.enrolled_at DESC`,
    { userId },
    t,
  );
  return found.map(row => {
    const { c_course_id, c_title, c_level, c_version, c_lessons_version, total, completed, ...e } =
      row;
    return {
      enrollment: e,
      course:
        c_course_id === null
          ? undefined
          : {
              course_id: c_course_id,
              title: c_title,
              level: c_level,
              version: c_version,
              lessons_version: c_lessons_version,
            },
      completed: Number(completed),
      total: Number(total),
    };
  });
}

/** The level (progress's copy) of the course the learner enrolled in last; undefined before any. */
export async function latestEnrolledLevel(db: Db, userId: string): Promise<CefrLevel | undefined> {
  const row = await one<{ level: CefrLevel }>(
    db,
    `SELECT c.level FROM ${S}.enrollments e JOIN ${S}.courses c ON c.course_id = e.course_id
      WHERE e.user_id = :userId ORDER BY e.enrolled_at DESC, e.id LIMIT 1`,
    { userId },
  );
  return row?.level;
}
