import {
  expectedCredit,
  kFactor,
  LEARNER_K,
  masteryOf,
  QUESTION_K,
  rateAnswer,
  type QuestionDifficulty,
  type SkillRating,
} from "../../services/progress/mastery";

/** The Elo-style mastery model of services/progress/mastery.ts (docs/learning-rules.md). */

const fresh: SkillRating = { rating: 0, attempts: 0 };
const unseen: QuestionDifficulty = { difficulty: 0, answers: 0 };

/** A small seeded generator (mulberry32): the simulations run the same every time. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

describe("mastery model", () => {
  it("when a new learner answers a new question right, then the rating rises by K0 · ½ and the question gets easier by half that", () => {
    const { skills, question } = rateAnswer([fresh], unseen, 1);
    expect(skills[0]).toEqual({ rating: 0.5, attempts: 1 });
    expect(question).toEqual({ difficulty: -0.25, answers: 1 });
    expect(masteryOf(skills[0].rating)).toBeCloseTo(0.6225, 4);
  });

  it("when the answer is wrong, then the rating falls and the question gets harder", () => {
    const { skills, question } = rateAnswer([fresh], unseen, 0);
    expect(skills[0].rating).toBeCloseTo(-0.5, 10);
    expect(question.difficulty).toBeCloseTo(0.25, 10);
    expect(masteryOf(skills[0].rating)).toBeLessThan(0.5);
  });

  it("when the credit is what the model expected, then nothing moves but the counts", () => {
    const learner = { rating: 1, attempts: 4 };
    const question = { difficulty: 1, answers: 9 };
    const after = rateAnswer([learner], question, expectedCredit(1, 1));
    expect(after.skills[0]).toEqual({ rating: 1, attempts: 5 });
    expect(after.question).toEqual({ difficulty: 1, answers: 10 });
  });

  it("when evidence grows, then K shrinks to its floor: K(n) = max(min, K0 / (1 + decay · n))", () => {
    expect(kFactor(LEARNER_K, 0)).toBe(1);
    expect(kFactor(LEARNER_K, 10)).toBe(0.5);
    expect(kFactor(LEARNER_K, 1000)).toBe(LEARNER_K.min);
    expect(kFactor(QUESTION_K, 0)).toBe(0.5);
    expect(kFactor(QUESTION_K, 20)).toBe(0.25);
    expect(kFactor(QUESTION_K, 100_000)).toBe(QUESTION_K.min);
  });

  it("when a question has two skills, then each moves against its own expectation and the difficulty against their mean", () => {
    const strong = { rating: 2, attempts: 0 };
    const weak = { rating: -2, attempts: 0 };
    const { skills, question } = rateAnswer([strong, weak], unseen, 1);
    expect(skills[0].rating).toBeCloseTo(2 + (1 - expectedCredit(2, 0)), 10);
    expect(skills[1].rating).toBeCloseTo(-2 + (1 - expectedCredit(-2, 0)), 10);
    expect(skills[1].rating - weak.rating).toBeGreaterThan(skills[0].rating - strong.rating);
    expect(question.difficulty).toBeCloseTo(-0.5 * (1 - expectedCredit(0, 0)), 10);
  });

  it("when a question has no skills, then its difficulty is left as it was", () => {
    expect(rateAnswer([], { difficulty: 0.3, answers: 2 }, 1)).toEqual({
      skills: [],
      question: { difficulty: 0.3, answers: 2 },
    });
  });

  it("when a learner is always right on the hardest question, then the rating stays bounded and mastery below 1", () => {
    let learner = fresh;
    const question = { difficulty: 6, answers: 0 };
    for (let i = 0; i < 5000; i += 1) learner = rateAnswer([learner], question, 1).skills[0];
    expect(learner.rating).toBeLessThanOrEqual(6);
    expect(masteryOf(learner.rating)).toBeLessThan(1);
    expect(masteryOf(learner.rating)).toBeGreaterThan(0.99);
  });

  it("when simulated learners of known ability answer by the model's own odds, then learned difficulties and ratings order as the true ones do", () => {
    const random = seeded(18);
    const trueDifficulty = [-2, -1, 0, 1, 2];
    const trueAbility = [-1.5, -0.5, 0.5, 1.5];
    const questions = trueDifficulty.map(() => ({ ...unseen }));
    const learners = trueAbility.map(() => ({ ...fresh }));
    for (let round = 0; round < 400; round += 1) {
      for (let l = 0; l < learners.length; l += 1) {
        const q = Math.floor(random() * questions.length);
        const right = random() < expectedCredit(trueAbility[l], trueDifficulty[q]) ? 1 : 0;
        const after = rateAnswer([learners[l]], questions[q], right);
        learners[l] = after.skills[0];
        questions[q] = after.question;
      }
    }
    const learned = questions.map(q => q.difficulty);
    expect([...learned].sort((a, b) => a - b)).toEqual(learned);
    const ratings = learners.map(l => l.rating);
    expect([...ratings].sort((a, b) => a - b)).toEqual(ratings);
    expect(masteryOf(ratings[3])).toBeGreaterThan(0.7);
    expect(masteryOf(ratings[0])).toBeLessThan(0.4);
  });
});
