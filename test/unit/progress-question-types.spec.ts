import { gradeAttempt } from "../../services/progress/grading";
import type { GradableQuestion } from "../../models/progress.model";

const cloze: GradableQuestion = {
  id: "c",
  type: "cloze",
  prompt: "I {{1}} coffee and she {{2}} tea.",
  answer: ["like", ["prefers", "likes"]],
};
const match: GradableQuestion = {
  id: "m",
  type: "match",
  options: { left: ["dog", "cat"], right: ["chien", "chat"] },
  answer: [
    ["dog", "chien"],
    ["cat", "chat"],
  ],
};
const translate: GradableQuestion = {
  id: "t",
  type: "translate",
  answer: ["I am very happy", "I'm very glad"],
};
const listen: GradableQuestion = {
  id: "l",
  type: "listen",
  answer: ["Good morning, everyone"],
  explanation: "A greeting",
};

const resultOf = (question: GradableQuestion, value: string | Array<string | string[]>) =>
  gradeAttempt([question], [{ questionId: question.id, value }]).results[0];

describe("grading the language question types", () => {
  it("when each blank of a cloze is filled with an accepted form, then it is right; one wrong blank is half", () => {
    expect(resultOf(cloze, ["LIKE", "likes"])).toMatchObject({ correct: true, credit: 1 });
    expect(resultOf(cloze, ["like", "drinks"])).toMatchObject({ correct: false, credit: 0.5 });
    expect(resultOf(cloze, ["like"])).toMatchObject({ correct: false, credit: 0.5 });
  });

  it("when a cloze blank has one slip, then it is right as a typo with the accepted forms shown", () => {
    expect(resultOf(cloze, ["like", "prefres"])).toEqual({
      questionId: "c",
      correct: true,
      typo: true,
      accepted: ["like", "prefers"],
      credit: 1,
      expected: ["like", ["prefers", "likes"]],
    });
  });

  it("when match pairs are given in any order, then right pairs count and wrong ones take credit away", () => {
    expect(
      resultOf(match, [
        ["cat", "chat"],
        ["Dog", "chien"],
      ]),
    ).toMatchObject({ correct: true, credit: 1 });
    expect(resultOf(match, [["dog", "chien"]])).toMatchObject({ correct: false, credit: 0.5 });
    expect(
      resultOf(match, [
        ["dog", "chat"],
        ["cat", "chien"],
      ]),
    ).toMatchObject({ correct: false, credit: 0 });
  });

  it("when a translation or transcript is one of the accepted ones, typographic or with a slip, then it is right", () => {
    expect(resultOf(translate, "I\u2019m very glad!")).toMatchObject({ correct: true });
    expect(resultOf(translate, "I am vry happy")).toMatchObject({
      correct: true,
      typo: true,
      accepted: "I am very happy",
    });
    expect(resultOf(translate, "I am very sad")).toMatchObject({ correct: false, credit: 0 });
    // A missing inner comma is one slip.
    expect(resultOf(listen, "good morning everyone")).toMatchObject({ correct: true, typo: true });
    expect(resultOf(listen, "good evening everyone")).toEqual({
      questionId: "l",
      correct: false,
      credit: 0,
      expected: ["Good morning, everyone"],
      explanation: "A greeting",
    });
    expect(resultOf(listen, "good morning, everyone.")).not.toHaveProperty("typo");
  });

  it("when a sentence has a real wrong word, then it is wrong, not a typo", () => {
    const comparative: GradableQuestion = {
      id: "x",
      type: "text",
      answer: "She is taller than me",
    };
    expect(resultOf(comparative, "She is taller then me")).toMatchObject({ correct: false });
  });

  it("when a typo-right cloze makes 4 of 5 questions right, then the exact 80 % mark is passed", () => {
    const five = [cloze, match, translate, listen, { ...listen, id: "l2" }];
    const graded = gradeAttempt(five, [
      { questionId: "c", value: ["like", "prefres"] },
      {
        questionId: "m",
        value: [
          ["dog", "chien"],
          ["cat", "chat"],
        ],
      },
      { questionId: "t", value: "I am very happy" },
      { questionId: "l", value: "Good morning, everyone" },
      { questionId: "l2", value: "Bad evening" },
    ]);
    expect(graded).toMatchObject({ score: 40, maxScore: 50, passed: true, correctCount: 4 });
  });
});
