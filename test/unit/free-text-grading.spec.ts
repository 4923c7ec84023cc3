import { matchText, normalizeText, slipsAllowed } from "../../lib/grading/free-text";

/** The table of cases in docs/learning-rules.md ("Free-text answers"), row by row. */
const cases: Array<[string, string[], { correct: boolean; typo: boolean; accepted?: string }]> = [
  ["I\u2019m fine", ["I'm fine."], { correct: true, typo: false, accepted: "I'm fine." }],
  ["  GOOD   morning! ", ["Good morning"], { correct: true, typo: false }],
  ["well\u2013known", ["well-known"], { correct: true, typo: false }],
  ["\uFF28\uFF45\uFF4C\uFF4C\uFF4F", ["hello"], { correct: true, typo: false }],
  ["color", ["colour", "color"], { correct: true, typo: false, accepted: "color" }],
  ["recieve", ["receive"], { correct: true, typo: true, accepted: "receive" }],
  ["hlelo", ["hello"], { correct: true, typo: true, accepted: "hello" }],
  ["helo", ["hello"], { correct: true, typo: true, accepted: "hello" }],
  ["cat", ["car"], { correct: false, typo: false }],
  ["thnaks", ["thanks"], { correct: true, typo: true, accepted: "thanks" }],
  ["thanx", ["thanks"], { correct: false, typo: false }],
  ["then", ["than"], { correct: false, typo: false }],
  ["She is taller then me", ["She is taller than me"], { correct: false, typo: false }],
  ["She is taler than me", ["She is taller than me"], { correct: true, typo: true }],
  ["quiet", ["quite"], { correct: false, typo: false }],
  ["I beleive it will rian", ["I believe it will rain"], { correct: true, typo: true }],
  ["I beleive it will rian today", ["I believe it will rain"], { correct: false, typo: false }],
  ["hel", ["hello"], { correct: false, typo: false }],
  ["goodmorning", ["good morning"], { correct: true, typo: true }],
  ["", ["a"], { correct: false, typo: false }],
];

describe("free-text answers", () => {
  it.each(cases)("when %j is given for %j, then it is %j", (given, accepted, expected) => {
    expect(matchText(given, accepted)).toMatchObject(expected);
  });

  it("when the accepted form is short, long or very long, then 0, 1 or 2 slips are forgiven", () => {
    expect([4, 5, 11, 12, 40].map(slipsAllowed)).toEqual([0, 1, 1, 2, 2]);
    // Two slips in a 12-letter form: still right, as a typo; three: wrong.
    expect(matchText("understnading", ["understanding"])).toMatchObject({ typo: true });
    expect(matchText("unedrstnading", ["understanding"])).toMatchObject({ typo: true });
    expect(matchText("unedrstnadign", ["understanding"])).toMatchObject({ correct: false });
    // Two slips in an 11-letter form are too many.
    expect(matchText("intrestign", ["interesting"])).toMatchObject({ correct: false });
  });

  it("when several accepted forms are near, then the closest one is shown", () => {
    expect(matchText("organiez", ["organize", "organised"])).toMatchObject({
      typo: true,
      accepted: "organize",
    });
    expect(matchText("organised.", ["organize", "organised"])).toMatchObject({
      typo: false,
      accepted: "organised",
    });
  });

  it("when text is normalised, then inner punctuation stays and final punctuation goes", () => {
    expect(normalizeText("Mr. Smith?!\u2026")).toBe("mr. smith");
    expect(normalizeText("\u201CHi\u201D")).toBe('"hi"');
  });
});

describe("the starter translation", () => {
  it("when the contraction is typed, then it is right as a typo of the one accepted form", () => {
    expect(matchText("Where's the station, please", ["Where is the station, please?"])).toEqual({
      correct: true,
      typo: true,
      accepted: "Where is the station, please?",
    });
  });
});
