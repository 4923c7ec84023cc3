import type { Errors } from "moleculer";
import { assertValidLesson, type LessonShape } from "../../services/content/validation";
import { learnerQuestion, scrambled } from "../../services/content/views";
import { topicSlug } from "../../services/content/topics";
import type { Question, QuestionInput } from "../../models/lesson.model";

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

describe("language question types", () => {
  const cloze: QuestionInput = {
    type: "cloze",
    prompt: "I {{1}} coffee and she {{2}} tea.",
    answer: ["like", ["likes", "loves"]],
  };
  const match: QuestionInput = {
    type: "match",
    prompt: "Pair the words",
    options: { left: ["dog", "cat"], right: ["chien", "chat"] },
    answer: [
      ["dog", "chien"],
      ["cat", "chat"],
    ],
  };

  it("when a cloze, match, translate and listen question are well formed, then the quiz is valid", () => {
    expect(
      problemsOf(
        quiz([
          cloze,
          match,
          { type: "translate", prompt: "Je suis content.", answer: ["I am happy", "I'm glad"] },
          { type: "listen", prompt: "Write what you hear", media: "m1", answer: ["Good morning"] },
        ]),
      ),
    ).toEqual([]);
  });

  it("when a cloze's blanks and answers disagree, then the prompt or the answer is named", () => {
    expect(problemsOf(quiz([{ ...cloze, answer: ["like"] }]))).toEqual(["questions[0].answer"]);
    expect(problemsOf(quiz([{ ...cloze, prompt: "No blanks here", answer: ["x"] }]))).toEqual([
      "questions[0].prompt",
    ]);
    expect(
      problemsOf(quiz([{ type: "cloze", prompt: "{{2}} and {{1}}", answer: ["a", "b"] }])),
    ).toEqual(["questions[0].prompt"]);
  });

  it("when a match's pairs do not fit its columns, then options or answer is named", () => {
    expect(problemsOf(quiz([{ ...match, answer: [["dog", "chat"]] }]))).toEqual([
      "questions[0].answer",
    ]);
    expect(
      problemsOf(
        quiz([
          {
            ...match,
            answer: [
              ["dog", "chien"],
              ["dog", "chat"],
            ],
          },
        ]),
      ),
    ).toEqual(["questions[0].answer"]);
    expect(problemsOf(quiz([{ ...match, options: ["dog", "cat"] }]))).toEqual([
      "questions[0].options",
    ]);
  });

  it("when a listen has no audio, a translate has options or a choice has nested answers, then the field is named", () => {
    expect(problemsOf(quiz([{ type: "listen", prompt: "p", answer: ["hi"] }]))).toEqual([
      "questions[0].media",
    ]);
    expect(
      problemsOf(quiz([{ type: "translate", prompt: "p", options: ["a", "b"], answer: ["a"] }])),
    ).toEqual(["questions[0].options"]);
    expect(problemsOf(quiz([{ type: "text", prompt: "p", media: "m1", answer: "hi" }]))).toEqual([
      "questions[0].media",
    ]);
    expect(
      problemsOf(quiz([{ type: "translate", prompt: "p", answer: [["I am", "I'm"]] }])),
    ).toEqual(["questions[0].answer"]);
  });
});

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

  it("when a match or listen question goes to a learner, then the right column is shuffled and the audio has its URL", () => {
    const match: Question = {
      id: "m",
      type: "match",
      prompt: "p",
      options: { left: ["a", "b", "c"], right: ["1", "2", "3"] },
      answer: [
        ["a", "1"],
        ["b", "2"],
        ["c", "3"],
      ],
    };
    const seen = learnerQuestion(match, URL);
    expect(seen).not.toHaveProperty("answer");
    expect(seen.options).toMatchObject({ left: ["a", "b", "c"] });
    expect(seen.options).not.toEqual(match.options);
    const listen: Question = {
      id: "l",
      type: "listen",
      prompt: "p",
      media: "m1",
      answer: ["hello"],
      explanation: "x",
    };
    expect(learnerQuestion(listen, URL)).toEqual({
      id: "l",
      type: "listen",
      prompt: "p",
      media: "m1",
      mediaUrl: `${URL}/api/v1/media/m1`,
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
