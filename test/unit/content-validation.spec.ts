import type { Errors } from "moleculer";
import { assertValidLesson, type LessonShape } from "../../services/content/validation";
import { learnerQuestion, scrambled } from "../../services/content/views";
import { topicSlug } from "../../services/content/topics";
import type { Question } from "../../models/lesson.model";

const quiz = (questions: LessonShape["questions"]): LessonShape => ({
  kind: "quiz",
  media: [],
  questions,
  cards: [],
});

function problemsOf(lesson: LessonShape): string[] {
  try {
    assertValidLesson(lesson);
  } catch (err) {
    expect((err as Errors.ValidationError).code).toBe(422);
    return ((err as Errors.ValidationError).data as Array<{ field: string }>).map(p => p.field);
  }
  return [];
}

describe("lesson validation", () => {
  it("when every answer key fits its options, then the quiz is valid", () => {
    expect(
      problemsOf(
        quiz([
          { type: "single", prompt: "p", options: ["a", "b"], answer: "a" },
          { type: "multiple", prompt: "p", options: ["a", "b", "c"], answer: ["a", "c"] },
          { type: "text", prompt: "p", answer: "hello" },
          { type: "order", prompt: "p", options: ["c", "a", "b"], answer: ["a", "b", "c"] },
        ]),
      ),
    ).toEqual([]);
  });

  it("when a single answer is not an option, then that answer is named", () => {
    expect(
      problemsOf(quiz([{ type: "single", prompt: "p", options: ["a", "b"], answer: "c" }])),
    ).toEqual(["questions[0].answer"]);
  });

  it("when a multiple answer is not a subset or repeats, then that answer is named", () => {
    expect(
      problemsOf(
        quiz([{ type: "multiple", prompt: "p", options: ["a", "b"], answer: ["a", "x"] }]),
      ),
    ).toEqual(["questions[0].answer"]);
    expect(
      problemsOf(
        quiz([{ type: "multiple", prompt: "p", options: ["a", "b"], answer: ["a", "a"] }]),
      ),
    ).toEqual(["questions[0].answer"]);
  });

  it("when an order answer is not a permutation of the options, then that answer is named", () => {
    expect(
      problemsOf(
        quiz([{ type: "order", prompt: "p", options: ["a", "b", "c"], answer: ["a", "b", "b"] }]),
      ),
    ).toEqual(["questions[0].answer"]);
  });

  it("when options repeat, or a text question has options, then they are named", () => {
    expect(
      problemsOf(quiz([{ type: "single", prompt: "p", options: ["a", "A "], answer: "a" }])),
    ).toEqual(["questions[0].options"]);
    expect(
      problemsOf(quiz([{ type: "text", prompt: "p", options: ["a", "b"], answer: "a" }])),
    ).toEqual(["questions[0].options"]);
  });

  it("when a text question accepts several answers, then they are valid unless two are the same", () => {
    expect(problemsOf(quiz([{ type: "text", prompt: "p", answer: ["colour", "color"] }]))).toEqual(
      [],
    );
    expect(problemsOf(quiz([{ type: "text", prompt: "p", answer: ["Color", "color "] }]))).toEqual([
      "questions[0].answer",
    ]);
  });

  it("when content does not match the kind, then the misplaced field is named", () => {
    expect(problemsOf({ kind: "lesson", media: [], questions: [], cards: [] })).toEqual(["body"]);
    expect(problemsOf({ kind: "flashcards", media: [], questions: [], cards: [] })).toEqual([
      "cards",
    ]);
    expect(
      problemsOf({
        kind: "lesson",
        body: "b",
        media: [],
        questions: [],
        cards: [{ front: "f", back: "b" }],
      }),
    ).toEqual(["cards"]);
  });
});

const URL = "https://lingomesh.test";

describe("learner view", () => {
  const order: Question = {
    id: "q1",
    type: "order",
    prompt: "p",
    options: ["one", "two", "three"],
    answer: ["one", "two", "three"],
  };

  it("when a question goes to a learner, then its answer and explanation are gone", () => {
    const q: Question = {
      id: "q2",
      type: "single",
      prompt: "p",
      options: ["a", "b"],
      answer: "a",
      explanation: "because",
    };
    expect(learnerQuestion(q, URL)).toEqual({
      id: "q2",
      type: "single",
      prompt: "p",
      options: ["a", "b"],
    });
  });

  it("when an ordering question goes to a learner, then its items are never in the answer's order and always the same", () => {
    const items = ["one", "two", "three"];
    expect(scrambled(order, items)).not.toEqual(order.answer);
    expect([...scrambled(order, items)].sort()).toEqual([...items].sort());
    expect(scrambled(order, items)).toEqual(scrambled(order, items));
  });
});

describe("topics", () => {
  it("when a topic name has spaces, accents or ampersands, then its slug is plain", () => {
    expect(topicSlug("Food & Drink")).toBe("food-and-drink");
    expect(topicSlug("  Café culture ")).toBe("cafe-culture");
  });
});
