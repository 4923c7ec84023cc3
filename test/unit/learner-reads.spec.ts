import { canEdit, editsNoCourse, publicCourse } from "../../lib/course-views";
import { PerUserReadCache } from "../../lib/per-user-read-cache";
import { PublishedReadCache } from "../../lib/published-read-cache";
import type { AuthUser, Role } from "../../models/auth.model";
import type { PublishedCourse } from "../../models/course.model";
import { learnerRead, learnerReadOf, type LearnerReadDeps } from "../../services/api/learner-reads";

const COURSE: PublishedCourse = {
  id: "c1",
  ownerId: "author-1",
  status: "published",
  version: 2,
  publishedAt: "2026-11-01T10:00:00.000Z",
  title: "Small talk",
  description: "",
  level: "A2",
  topics: [],
  language: "en",
  lessons: [
    { id: "l1", title: "Openers", order: 1, kind: "lesson", unitId: null, requires: [] },
    { id: "l2", title: "Weather", order: 2, kind: "lesson", unitId: "u1", requires: ["l1"] },
    // "gone" was taken down from the live version: it locks nothing any more.
    { id: "l3", title: "Check", order: 3, kind: "quiz", unitId: null, requires: ["l2", "gone"] },
  ],
  units: [{ id: "u1", title: "Unit 1", order: 1 }],
};

const learner: AuthUser = { id: "u-lea", roles: ["learner"] };

function fakeDeps(over: Partial<LearnerReadDeps> = {}) {
  const calls = { courses: 0, completions: 0 };
  const completed: Record<string, string[]> = {};
  const warnings: unknown[][] = [];
  const deps: LearnerReadDeps = {
    courses: new PublishedReadCache<PublishedCourse | null>({ ttlMs: 1000, maxEntries: 10 }),
    completions: new PerUserReadCache<string[]>({ ttlMs: 1000, maxUsers: 10, maxPerUser: 5 }),
    publishedCourse: async id => {
      calls.courses += 1;
      return id === COURSE.id ? structuredClone(COURSE) : null;
    },
    completedLessons: async (_courseId, userId) => {
      calls.completions += 1;
      return [...(completed[userId] ?? [])];
    },
    logger: { warn: (...args: unknown[]) => warnings.push(args) },
    ...over,
  };
  return { deps, calls, completed, warnings };
}

type Outline = { id: string; locked?: boolean; completed?: boolean; requires?: string[] };

function flat(view: unknown): Outline[] {
  const v = view as { lessons: Outline[]; units: Array<{ lessons: Outline[] }> };
  return [...v.lessons, ...v.units.flatMap(u => u.lessons)];
}

describe("a learner's course read at the gateway", () => {
  it("when a signed-in caller reads a course, then the gateway answers learners, and drafts' possible readers only with view=published", () => {
    const author: AuthUser = { id: "a", roles: ["learner", "author"] };
    const admin: AuthUser = { id: "x", roles: ["admin"] };
    expect(learnerReadOf("content.getCourse", "GET", learner, { id: "c1" })).toBe("c1");
    expect(
      learnerReadOf("content.getCourse", "GET", learner, { id: "c1", view: "published" }),
    ).toBe("c1");
    expect(learnerReadOf("content.getCourse", "GET", author, { id: "c1" })).toBeUndefined();
    expect(learnerReadOf("content.getCourse", "GET", admin, { id: "c1" })).toBeUndefined();
    expect(learnerReadOf("content.getCourse", "GET", author, { id: "c1", view: "published" })).toBe(
      "c1",
    );
    expect(
      learnerReadOf("content.getCourse", "GET", learner, { id: "c1", view: "draft" }),
    ).toBeUndefined();
    expect(
      learnerReadOf("content.getCourse", "GET", learner, { id: "c1", extra: "1" }),
    ).toBeUndefined();
    expect(learnerReadOf("content.getCourse", "POST", learner, { id: "c1" })).toBeUndefined();
    expect(learnerReadOf("content.listCourses", "GET", learner, {})).toBeUndefined();
  });

  it("when a caller edits no course, then canEdit is false for them whoever owns it", () => {
    const roleSets: Role[][] = [[], ["learner"], ["author"], ["admin"], ["learner", "author"]];
    for (const roles of roleSets) {
      const user: AuthUser = { id: "me", roles };
      const editsSome = canEdit(user, "me") || canEdit(user, "someone-else");
      expect(editsNoCourse(user)).toBe(!editsSome);
    }
  });

  it("when a learner reads, then each lesson is locked or open and completed or not, from their completions", async () => {
    const { deps, completed } = fakeDeps();
    completed[learner.id] = ["l1"];
    const view = await learnerRead(deps, "c1", learner);
    expect(flat(view).map(l => [l.id, l.locked, l.completed, l.requires])).toEqual([
      ["l1", false, true, []],
      ["l3", true, false, ["l2"]],
      ["l2", false, false, ["l1"]],
    ]);
    expect((view as { units: Array<{ id: string }> }).units.map(u => u.id)).toEqual(["u1"]);
  });

  it("when a learner reads again, then the copies answer without a call; after their clear, progress is asked again", async () => {
    const { deps, calls, completed } = fakeDeps();
    await learnerRead(deps, "c1", learner);
    await learnerRead(deps, "c1", learner);
    expect(calls).toEqual({ courses: 1, completions: 1 });

    completed[learner.id] = ["l1", "l2"];
    deps.completions.clearUser(learner.id);
    const view = await learnerRead(deps, "c1", learner);
    expect(calls).toEqual({ courses: 1, completions: 2 });
    expect(flat(view).find(l => l.id === "l3")).toMatchObject({ locked: false, completed: false });
  });

  it("when progress is away, then the course is answered as anyone reads it and nothing of it is kept", async () => {
    let away = true;
    const { deps, warnings } = fakeDeps({
      completedLessons: async () => {
        if (away) throw new Error("progress unreachable");
        return ["l1"];
      },
    });
    expect(await learnerRead(deps, "c1", learner)).toEqual(publicCourse(COURSE));
    expect(warnings).toHaveLength(1);
    away = false;
    const view = await learnerRead(deps, "c1", learner);
    expect(flat(view).find(l => l.id === "l1")).toMatchObject({ completed: true });
  });

  it("when the course is not live or content cannot be asked, then content answers (undefined here)", async () => {
    const { deps } = fakeDeps();
    expect(await learnerRead(deps, "missing", learner)).toBeUndefined();
    const failing = fakeDeps({
      publishedCourse: async () => {
        throw new Error("content unreachable");
      },
    });
    expect(await learnerRead(failing.deps, "c1", learner)).toBeUndefined();
  });
});

describe("the per-user copy", () => {
  it("when one user is cleared, then only their entries go and their read on its way is not stored", () => {
    const cache = new PerUserReadCache<string[]>({ ttlMs: 1000, maxUsers: 10, maxPerUser: 5 });
    cache.set("ann", "c1", ["l1"], cache.stamp);
    cache.set("bob", "c1", ["l2"], cache.stamp);
    const annReadStarted = cache.stamp;
    cache.clearUser("ann");
    expect(cache.get("ann", "c1")).toBeUndefined();
    expect(cache.get("bob", "c1")).toEqual(["l2"]);
    cache.set("ann", "c1", ["stale"], annReadStarted);
    expect(cache.get("ann", "c1")).toBeUndefined();
    // Another user's read that started before ann's clear is still fresh for them.
    cache.set("bob", "c2", ["l9"], annReadStarted);
    expect(cache.get("bob", "c2")).toEqual(["l9"]);
    cache.set("ann", "c1", ["l1", "l2"], cache.stamp);
    expect(cache.get("ann", "c1")).toEqual(["l1", "l2"]);
  });

  it("when entries age past their time to live, or too many users or courses are held, then the oldest go", () => {
    let now = 0;
    const cache = new PerUserReadCache<number>({
      ttlMs: 1000,
      maxUsers: 2,
      maxPerUser: 2,
      now: () => now,
    });
    cache.set("ann", "c1", 1, cache.stamp);
    now = 999;
    expect(cache.get("ann", "c1")).toBe(1);
    now = 1000;
    expect(cache.get("ann", "c1")).toBeUndefined();

    cache.set("ann", "c1", 1, cache.stamp);
    cache.set("ann", "c2", 2, cache.stamp);
    cache.set("ann", "c3", 3, cache.stamp);
    expect(cache.get("ann", "c1")).toBeUndefined();
    expect(cache.get("ann", "c3")).toBe(3);
    cache.set("bob", "c1", 1, cache.stamp);
    cache.set("cy", "c1", 1, cache.stamp);
    expect(cache.get("ann", "c3")).toBeUndefined();
    expect(cache.get("cy", "c1")).toBe(1);
  });

  it("when every user is cleared, then nothing stays and no read on its way is stored", () => {
    const cache = new PerUserReadCache<number>({ ttlMs: 1000, maxUsers: 10, maxPerUser: 2 });
    cache.set("ann", "c1", 1, cache.stamp);
    const bobReadStarted = cache.stamp;
    cache.clear();
    expect(cache.get("ann", "c1")).toBeUndefined();
    cache.set("bob", "c1", 1, bobReadStarted);
    expect(cache.get("bob", "c1")).toBeUndefined();
    cache.set("bob", "c1", 2, cache.stamp);
    expect(cache.get("bob", "c1")).toBe(2);
  });

  it("when more users are cleared than it remembers, then a read older than the forgotten clears is not stored", () => {
    const cache = new PerUserReadCache<number>({ ttlMs: 1000, maxUsers: 2, maxPerUser: 2 });
    const early = cache.stamp;
    for (const user of ["ann", "bob", "cy"]) cache.clearUser(user);
    cache.set("ann", "c1", 1, early);
    expect(cache.get("ann", "c1")).toBeUndefined();
    cache.set("ann", "c1", 2, cache.stamp);
    expect(cache.get("ann", "c1")).toBe(2);
  });
});
