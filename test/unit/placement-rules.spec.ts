import { CEFR_LEVELS } from "../../models/course.model";
import { PLACEMENT_BANK, type SeedPlacementItem } from "../../seeds/placement-bank";
import {
  PLACEMENT_RULES,
  difficultyOf,
  estimateAbility,
  information,
  isFinished,
  levelOf,
  nextItem,
  placementResult,
  probabilityCorrect,
  type PlacementResponse,
} from "../../services/progress/placement-rules";

/**
 * The placement model (docs/learning-rules.md, "Placement") on its own: the Rasch probability,
 * the EAP estimate, the choice of the next question and the stopping rule; then the simulation
 * the issue asks for — 200 learners of known level, answering the seed bank's questions by the
 * model's own probabilities, placed within one CEFR level in at least 90 % of the runs.
 */

/** mulberry32: a small seeded generator, so the simulation is the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const BANK = PLACEMENT_BANK.map(({ key, ...item }) => ({ ...item, id: key }));
type Item = (typeof BANK)[number];

/** One whole test of a learner of ability `theta`, as the use case runs it. */
function runTest(theta: number, random: () => number) {
  const asked: Item[] = [];
  const responses: PlacementResponse[] = [];
  let estimate = estimateAbility([]);
  for (;;) {
    const item = nextItem(BANK, asked, estimate.ability, random);
    if (!item) break;
    asked.push(item);
    const difficulty = difficultyOf(item.level);
    responses.push({ difficulty, correct: random() < probabilityCorrect(theta, difficulty) });
    estimate = estimateAbility(responses);
    if (isFinished(responses.length, estimate)) break;
  }
  return { ...placementResult(estimate), questions: responses.length, asked };
}

describe("the placement model", () => {
  test("when the bank is seeded, then it holds at least 12 questions a level from A1 to C1, each with skills", () => {
    expect(BANK.length).toBeGreaterThanOrEqual(60);
    for (const level of ["A1", "A2", "B1", "B2", "C1"] as const)
      expect(BANK.filter(item => item.level === level).length).toBeGreaterThanOrEqual(12);
    expect(BANK.every((item: SeedPlacementItem | Item) => item.skills.length > 0)).toBe(true);
    expect(new Set(PLACEMENT_BANK.map(item => item.key)).size).toBe(PLACEMENT_BANK.length);
  });

  test("when ability equals difficulty, then a right answer is a coin toss and the question is most informative", () => {
    expect(probabilityCorrect(1, 1)).toBe(0.5);
    expect(probabilityCorrect(2, 1)).toBeCloseTo(0.731, 3);
    expect(information(0, 0)).toBe(0.25);
    expect(information(0, 2)).toBeLessThan(information(0, 1));
  });

  test("when nothing is answered yet, then the estimate is the prior's: B1, with the prior's spread", () => {
    const prior = estimateAbility([]);
    expect(prior.ability).toBeCloseTo(0, 6);
    expect(prior.se).toBeCloseTo(PLACEMENT_RULES.prior.sd, 1);
    expect(placementResult(prior).level).toBe("B1");
  });

  test("when answers come in, then right ones raise the estimate, wrong ones lower it, and each narrows it", () => {
    const right = estimateAbility([{ difficulty: 0, correct: true }]);
    const wrong = estimateAbility([{ difficulty: 0, correct: false }]);
    expect(right.ability).toBeGreaterThan(0);
    expect(wrong.ability).toBeCloseTo(-right.ability, 6);
    expect(right.se).toBeLessThan(PLACEMENT_RULES.prior.sd);
  });

  test("when abilities are placed, then the cut-offs lie half way between the levels' difficulties", () => {
    expect([-3, -1.6, -1.5, -0.2, 0.5, 1.49, 1.5, 2.6].map(levelOf)).toEqual([
      "A1",
      "A1",
      "A2",
      "B1",
      "B2",
      "B2",
      "C1",
      "C2",
    ]);
  });

  test("when the next question is chosen, then it is an unused one of the level nearest the estimate, least tested skills first", () => {
    const first = nextItem(BANK, [], 0, () => 0)!;
    expect(first.level).toBe("B1");
    const b2 = nextItem(BANK, [], 1.2, () => 0.99)!;
    expect(b2.level).toBe("B2");
    const askedB1 = BANK.filter(item => item.level === "B1");
    expect(nextItem(BANK, askedB1, 0, () => 0)!.level).not.toBe("B1");
    const phrasal = BANK.filter(
      item => item.level === "B1" && item.skills.includes("phrasal-verbs"),
    );
    const again = nextItem(BANK, phrasal.slice(0, 1), 0, () => 0.999)!;
    expect(again.skills).not.toContain("phrasal-verbs");
    expect(nextItem(BANK, BANK, 0, () => 0)).toBeUndefined();
  });

  test("when the estimate is confident or 20 questions are answered, then the test stops", () => {
    const confident = estimateAbility(
      Array.from({ length: 18 }, (_, i) => ({ difficulty: 0, correct: i % 2 === 0 })),
    );
    expect(confident.se).toBeLessThan(PLACEMENT_RULES.targetSe);
    expect(isFinished(18, confident)).toBe(true);
    const unsure = estimateAbility([{ difficulty: 0, correct: true }]);
    expect(isFinished(1, unsure)).toBe(false);
    expect(isFinished(PLACEMENT_RULES.maxQuestions, unsure)).toBe(true);
  });

  test("when 200 simulated learners of known level take the test, then at least 90 % are placed within one level", () => {
    const random = seeded(20261204);
    const levels = ["A1", "A2", "B1", "B2", "C1"] as const;
    let within = 0;
    let exact = 0;
    let questions = 0;
    const runs = 200;
    for (let run = 0; run < runs; run += 1) {
      const level = levels[run % levels.length];
      // A learner anywhere inside their level's band (one logit wide around its difficulty).
      const theta = difficultyOf(level) - 0.5 + random();
      const test = runTest(theta, random);
      expect(test.questions).toBeLessThanOrEqual(PLACEMENT_RULES.maxQuestions);
      expect(new Set(test.asked.map(item => item.id)).size).toBe(test.asked.length);
      const off = Math.abs(CEFR_LEVELS.indexOf(test.level) - CEFR_LEVELS.indexOf(level));
      if (off <= 1) within += 1;
      if (off === 0) exact += 1;
      questions += test.questions;
    }
    const rate = within / runs;
    console.log(
      `placement simulation: ${within}/${runs} within one level (${(rate * 100).toFixed(1)} %), ` +
        `${exact}/${runs} exact, ${(questions / runs).toFixed(1)} questions on average`,
    );
    expect(rate).toBeGreaterThanOrEqual(0.9);
  });
});
