/**
 * Lesson prerequisites (docs/learning-rules.md, "Locking"): a lesson is locked for a learner
 * until every lesson it requires is completed. Content shows the lock, progress enforces it;
 * both read it here so they cannot disagree.
 */

/** The required lessons the learner has not completed yet (empty: the lesson is open). */
export function missingPrerequisites(
  requires: readonly string[] | undefined,
  completed: ReadonlySet<string>,
): string[] {
  return (requires ?? []).filter(id => !completed.has(id));
}

/**
 * A lesson's requirements among the lessons that still exist: a required lesson deleted
 * (taken down from the live version) no longer locks anything.
 */
export function liveRequirements(
  requires: readonly string[] | undefined,
  lessonIds: ReadonlySet<string>,
): string[] {
  return (requires ?? []).filter(id => lessonIds.has(id));
}

/**
 * A path of lesson ids that leads from `start` back to it through `requires`, or undefined
 * when there is none. `requiresOf` answers each lesson's requirements.
 */
export function requirementCycle(
  start: string,
  requiresOf: (lessonId: string) => readonly string[],
): string[] | undefined {
  const seen = new Set<string>();
  const walk = (id: string, path: string[]): string[] | undefined => {
    for (const next of requiresOf(id)) {
      if (next === start) return [...path, next];
      if (seen.has(next)) continue;
      seen.add(next);
      const found = walk(next, [...path, next]);
      if (found) return found;
    }
    return undefined;
  };
  return walk(start, [start]);
}
