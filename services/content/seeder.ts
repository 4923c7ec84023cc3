import { v5 as uuidv5 } from "uuid";
import { SYSTEM_AUTHOR_ID } from "../../models/content.model";
import type { PlacementItem } from "../../models/placement.model";
import { PLACEMENT_BANK } from "../../seeds/placement-bank";
import { STARTER_COURSES } from "../../seeds/starter-course";
import * as authoring from "./authoring";
import type { ContentRepository } from "./repository";
import { assertValidLesson } from "./validation";

/** Namespace of the starter content's name-based (v5) ids. */
const SEED_NAMESPACE = "5b0e4b8e-6f1d-4a53-9a8e-2f5c3d0a9b17";

export interface SeedReport {
  created: string[];
  skipped: string[];
  /** Questions of the placement bank written (added or brought up to date). */
  placementItems: number;
}

const seedId = (name: string) => uuidv5(name, SEED_NAMESPACE);

/**
 * Loads the starter courses that are not there yet, each published by the system author.
 * Idempotent: a course already present (by its stable id) is left as it is, even if an
 * admin has since edited it.
 */
export async function seedStarterContent(deps: authoring.AuthoringDeps): Promise<SeedReport> {
  const report: SeedReport = {
    created: [],
    skipped: [],
    placementItems: await seedPlacementBank(deps.repo),
  };
  for (const seed of STARTER_COURSES) {
    const courseId = seedId(seed.key);
    if (await deps.repo.getCourse(courseId)) {
      report.skipped.push(seed.title);
      continue;
    }
    const { key: _key, lessons, ...input } = seed;
    const course = await authoring.createCourse(deps, SYSTEM_AUTHOR_ID, input, courseId);
    for (const { key, ...lesson } of lessons) {
      const base = `${seed.key}/${key}`;
      await authoring.createLesson(
        deps,
        course,
        {
          ...lesson,
          questions: lesson.questions?.map((q, i) => ({ ...q, id: seedId(`${base}/q${i + 1}`) })),
          cards: lesson.cards?.map((c, i) => ({ ...c, id: seedId(`${base}/c${i + 1}`) })),
        },
        seedId(base),
      );
    }
    await authoring.publishCourse(deps, courseId);
    report.created.push(seed.title);
  }
  return report;
}

/**
 * Writes the built-in placement bank (seeds/placement-bank.ts), each question under its stable
 * id: seeding again brings the same questions up to date and adds new ones, and removes none
 * (a test under way may still be asking one). Every question passes the authors' checks.
 */
export async function seedPlacementBank(repo: ContentRepository): Promise<number> {
  const items: PlacementItem[] = PLACEMENT_BANK.map(({ key, ...item }) => ({
    ...item,
    id: seedId(`placement/${key}`),
  }));
  assertValidLesson({
    kind: "quiz",
    media: [],
    cards: [],
    questions: items.map(({ level: _level, skills: _skills, ...question }) => question),
  });
  await repo.savePlacementItems(items);
  return items.length;
}

export { seedId };
