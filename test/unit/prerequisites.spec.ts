import { liveRequirements, missingPrerequisites, requirementCycle } from "../../lib/prerequisites";

/** The locking rule of docs/learning-rules.md ("Units and locking") that content and progress share. */

describe("lesson prerequisites", () => {
  it("when every required lesson is completed, then nothing is missing; otherwise the missing ones, in order", () => {
    expect(missingPrerequisites(["a", "b"], new Set(["a", "b", "c"]))).toEqual([]);
    expect(missingPrerequisites(["a", "b", "c"], new Set(["b"]))).toEqual(["a", "c"]);
    expect(missingPrerequisites(undefined, new Set())).toEqual([]);
    expect(missingPrerequisites([], new Set())).toEqual([]);
  });

  it("when a required lesson no longer exists, then it is no requirement", () => {
    expect(liveRequirements(["a", "gone"], new Set(["a", "b"]))).toEqual(["a"]);
    expect(liveRequirements(undefined, new Set(["a"]))).toEqual([]);
  });

  it("when requirements lead back to the lesson, then the cycle's path is answered; otherwise none", () => {
    const graph: Record<string, string[]> = { a: ["b"], b: ["c"], c: ["a"], d: ["b", "e"], e: [] };
    const of = (id: string) => graph[id] ?? [];
    expect(requirementCycle("a", of)).toEqual(["a", "b", "c", "a"]);
    expect(requirementCycle("d", of)).toBeUndefined();
    expect(requirementCycle("x", () => ["x"])).toEqual(["x", "x"]);
    // A diamond (d → b, d → e, both → f) is no cycle.
    const diamond: Record<string, string[]> = { d: ["b", "e"], b: ["f"], e: ["f"], f: [] };
    expect(requirementCycle("d", id => diamond[id] ?? [])).toBeUndefined();
  });
});
