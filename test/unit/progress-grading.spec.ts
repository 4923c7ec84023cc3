import { AnswerSheetError, gradeAttempt } from "../../services/progress/grading";
import { normalizeText } from "../../lib/grading/free-text";
import {
  attemptXp,
  MAX_ANSWER_XP,
  practiceXp,
  PRACTICE_DAILY_CAP_XP,
  PRACTICE_SESSION_MAX_XP,
  REPEAT_DAILY_CAP_XP,
} from "../../services/progress/xp";
import type { GradableQuestion } from "../../models/progress.model";

const multiple = (id: string): GradableQuestion => ({
  id,
  type: "multiple",
  prompt: "Pick the three",
  options: ["a", "b", "c", "d"],
  answer: ["a", "b", "c"],
});
const single = (id: string): GradableQuestion => ({
  id,
  type: "single",
  prompt: "Pick",
  options: ["x", "y"],
  answer: "x",
});

function problemsOf(run: () => unknown): AnswerSheetError["problems"] {
  try {
    run();
  } catch (err) {
    if (err instanceof AnswerSheetError) return err.problems;
    throw err;
  }
  throw new Error("the sheet was accepted");
}

describe("free-text normalisation", () => {
  it("when an answer uses typographic quotes, dashes, other widths, case, spaces or final punctuation, then it equals the plain key", () => {
    expect(normalizeText("I\u2019m")).toBe(normalizeText("I'm"));
    expect(normalizeText("\u201CHi\u201D")).toBe(normalizeText('"hi"'));
    expect(normalizeText("well\u2013known")).toBe("well-known");
    expect(normalizeText("well\u2014known")).toBe("well-known");
    expect(normalizeText("\uFF28\uFF45\uFF4C\uFF4C\uFF4F")).toBe("hello"); // full-width letters (NFKC)
    expect(normalizeText("  Good \t MORNING!  ")).toBe("good morning");
    expect(normalizeText("Really?!\u2026")).toBe("really");
    // Inner punctuation is part of the answer.
    expect(normalizeText("Mr. Smith")).toBe("mr. smith");
  });

  it("when a text answer is graded, then a curly apostrophe is right and each accepted form counts", () => {
    const text: GradableQuestion = { id: "t", type: "text", prompt: "?", answer: "I'm fine." };
    expect(
      gradeAttempt([text], [{ questionId: "t", value: "i\u2019m FINE" }]).results[0],
    ).toMatchObject({ correct: true });
    const either: GradableQuestion = {
      id: "t",
      type: "text",
      prompt: "?",
      answer: ["colour", "color"],
    };
    expect(gradeAttempt([either], [{ questionId: "t", value: "Color" }]).perfect).toBe(true);
  });
});

describe("answer sheets", () => {
  const quiz = [single("q1"), single("q2")];

  it("when the sheet is empty or leaves a question out, then it is refused and reveals no answer", () => {
    const empty = problemsOf(() => gradeAttempt(quiz, []));
    expect(empty.map(p => p.questionId)).toEqual(["q1", "q2"]);
    expect(JSON.stringify(empty)).not.toContain('"x"');
    const partial = problemsOf(() => gradeAttempt(quiz, [{ questionId: "q1", value: "y" }]));
    expect(partial).toEqual([
      { field: "answers", message: "must answer every question of the lesson", questionId: "q2" },
    ]);
  });

  it("when the sheet names an unknown question, then it is refused", () => {
    const unknown = problemsOf(() =>
      gradeAttempt(quiz, [
        { questionId: "q1", value: "x" },
        { questionId: "q2", value: "x" },
        { questionId: "zz", value: "x" },
      ]),
    );
    expect(unknown).toEqual([
      { field: "answers[2].questionId", message: "is not a question of this lesson" },
    ]);
  });
});

describe("pass mark", () => {
  it("when partial credits add up to 31.67 of 40 (79.2 %), then the attempt fails: nothing is rounded before the comparison", () => {
    // 10 + 10 + 6.67 (two of three picks) + 5 (one of two): 7 + 5 if rounded, 32 = 80 %.
    const oneOfTwo: GradableQuestion = { ...multiple("m2"), answer: ["a", "b"] };
    const quiz = [single("s1"), single("s2"), multiple("m1"), oneOfTwo];
    const graded = gradeAttempt(quiz, [
      { questionId: "s1", value: "x" },
      { questionId: "s2", value: "x" },
      { questionId: "m1", value: ["a", "b"] },
      { questionId: "m2", value: ["a"] },
    ]);
    expect(graded).toMatchObject({ score: 31.67, maxScore: 40, passed: false });
  });

  it("when the score is exactly 80 %, then the attempt passes", () => {
    const quiz = [single("a"), single("b"), single("c"), single("d"), single("e")];
    const graded = gradeAttempt(
      quiz,
      quiz.map((q, i) => ({ questionId: q.id, value: i < 4 ? "x" : "y" })),
    );
    expect(graded).toMatchObject({ score: 40, maxScore: 50, passed: true });
  });
});

describe("xp bounds", () => {
  it("when a quiz has 100 questions, then its first pass pays no more than a 10-question one", () => {
    const huge = attemptXp({ score: 1000, passed: true, perfect: true }, true);
    expect(huge).toEqual({ answers: MAX_ANSWER_XP, completion: 20, perfect: 20, total: 140 });
    expect(attemptXp({ score: 1000, passed: true, perfect: true }, false).total).toBe(25);
  });

  it("when repeats of a lesson reach the daily cap, then they pay what is left of it, then nothing", () => {
    const passed = { score: 90, passed: true, perfect: true };
    expect(attemptXp(passed, false, 0).total).toBe(22);
    expect(attemptXp(passed, false, 22).total).toBe(REPEAT_DAILY_CAP_XP - 22);
    expect(attemptXp(passed, false, REPEAT_DAILY_CAP_XP).total).toBe(0);
  });

  it("when practice is paid, then a quiz and a day are each bounded", () => {
    expect(practiceXp(3, 0)).toBe(6);
    expect(practiceXp(50, 0)).toBe(PRACTICE_SESSION_MAX_XP);
    expect(practiceXp(50, PRACTICE_DAILY_CAP_XP - 5)).toBe(5);
    expect(practiceXp(50, PRACTICE_DAILY_CAP_XP)).toBe(0);
  });
});
