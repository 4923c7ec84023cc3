import { liveRequirements, missingPrerequisites } from "../../lib/prerequisites";
import type { AuthUser } from "../../models/auth.model";
import type { CefrLevel } from "../../models/course.model";
import type { NextStep } from "../../models/skill.model";
import type { Caller, ProgressDeps } from "./deps";
import * as remote from "./remote";
import { dueReviewCount } from "./reviews";
import * as store from "./store";

/**
 * GET /me/next (docs/learning-rules.md, "What next"): at most MAX_STEPS suggestions, in this
 * order: due reviews, the weakest practised skill, the next open lesson of each enrolled
 * course (newest enrolment first), a published course at the learner's level.
 */

const MAX_STEPS = 10;

/**
 * The learner's CEFR level for suggestions: their last placement test's, else that of the
 * course they enrolled in last, else A1.
 */
async function learnerLevel(deps: Pick<ProgressDeps, "db">, userId: string): Promise<CefrLevel> {
  const placed = await store.placedLevel(deps.db, userId);
  return placed?.level ?? (await store.latestEnrolledLevel(deps.db, userId)) ?? "A1";
}

const plural = (n: number, one: string, many: string) => (n === 1 ? one : many);

/** The first lesson of the course's order that is neither completed nor locked. */
async function nextLesson(
  deps: ProgressDeps,
  userId: string,
  courseId: string,
  caller?: Caller,
): Promise<NextStep | undefined> {
  const outline = await remote.outlineIfPublished(deps, courseId, caller);
  if (!outline) return undefined;
  const completed = new Set(await store.completedInCourse(deps.db, userId, courseId));
  const ids = new Set(outline.lessons.map(l => l.id));
  const open = outline.lessons.find(
    l =>
      !completed.has(l.id) &&
      missingPrerequisites(liveRequirements(l.requires, ids), completed).length === 0,
  );
  if (!open) return undefined;
  return {
    kind: "lesson",
    courseId,
    lessonId: open.id,
    reason: `Next in ${outline.title}: ${open.title}`,
  };
}

export async function whatNext(
  deps: ProgressDeps,
  actor: Pick<AuthUser, "id">,
  caller?: Caller,
): Promise<NextStep[]> {
  const userId = actor.id;
  // Independent reads at once: the answer waits for the slowest, not for their sum.
  const [due, [weakest], enrolled, level] = await Promise.all([
    dueReviewCount(deps, userId, caller),
    store.weakestSkills(deps.db, userId, 1),
    store.enrolledCoursesOf(deps.db, userId),
    learnerLevel(deps, userId),
  ]);
  const taken = new Set(enrolled.map(e => e.enrollment.course_id));
  const learning = enrolled
    .filter(e => e.enrollment.completed_at === null)
    .slice(0, MAX_STEPS)
    .map(e => e.enrollment.course_id);
  const [lessons, catalogue] = await Promise.all([
    Promise.all(learning.map(id => nextLesson(deps, userId, id, caller))),
    remote.catalogueAt(deps, level, caller),
  ]);
  const steps: NextStep[] = [];
  if (due > 0)
    steps.push({
      kind: "review",
      count: due,
      reason: `${due} ${plural(due, "flashcard is", "flashcards are")} due for review`,
    });
  if (weakest)
    steps.push({
      kind: "practice",
      skill: weakest.skill,
      reason: `Practise ${weakest.skill}: your weakest skill (${Math.round(weakest.mastery * 100)} % mastery)`,
    });
  for (const step of lessons) if (step) steps.push(step);
  const course = catalogue.find(c => !taken.has(c.id));
  if (course)
    steps.push({
      kind: "course",
      courseId: course.id,
      reason: `A course at your level (${level}): ${course.title}`,
    });
  return steps.slice(0, MAX_STEPS);
}
