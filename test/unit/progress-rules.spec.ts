import { ACHIEVEMENTS, earnedAchievements } from "../../services/progress/achievements";
import {
  addDays,
  daysBetween,
  isoWeek,
  localDate,
  localTime,
  nextLocalDay,
} from "../../services/progress/clock";
import { gradeAttempt, gradeQuestion } from "../../services/progress/grading";
import { normalizeText } from "../../lib/grading/free-text";
import { newCardState, review } from "../../services/progress/srs";
import {
  atRisk,
  EMPTY_STREAK,
  recordActivity,
  settle,
  type StreakState,
} from "../../services/progress/streaks";
import { attemptXp, completionXp, reviewXp } from "../../services/progress/xp";
import type { GradableQuestion } from "../../models/progress.model";

const questions: GradableQuestion[] = [
  { id: "q1", type: "single", prompt: "Pick", options: ["cat", "dog"], answer: "cat" },
  {
    id: "q2",
    type: "multiple",
    prompt: "Pick all",
    options: ["a", "b", "c", "d"],
    answer: ["a", "c"],
  },
  { id: "q3", type: "text", prompt: "Capital of the USA?", answer: "Washington D.C." },
  {
    id: "q4",
    type: "order",
    prompt: "Order",
    options: ["I", "am", "here"],
    answer: ["I", "am", "here"],
  },
];

describe("grading", () => {
  it("when a single-choice answer matches the key, then it earns full credit, otherwise none", () => {
    expect(gradeQuestion(questions[0], "cat")).toBe(1);
    expect(gradeQuestion(questions[0], "dog")).toBe(0);
    expect(gradeQuestion(questions[0], undefined)).toBe(0);
  });

  it("when a text answer differs only in case and whitespace, then it is correct", () => {
    expect(normalizeText("  WASHINGTON   d.c. ")).toBe("washington d.c");
    expect(gradeQuestion(questions[2], "  washington\td.C.  ")).toBe(1);
    expect(gradeQuestion(questions[2], "Washington")).toBe(0);
  });

  it("when multiple choices are given in any order, then they are compared as sets with partial credit", () => {
    expect(gradeQuestion(questions[1], ["c", "a"])).toBe(1);
    expect(gradeQuestion(questions[1], ["a"])).toBe(0.5);
    expect(gradeQuestion(questions[1], ["a", "b"])).toBe(0); // a wrong pick cancels a right one
    expect(gradeQuestion(questions[1], ["a", "b", "c", "d"])).toBe(0);
  });

  it("when an order answer is compared, then it is a sequence with credit per right position", () => {
    expect(gradeQuestion(questions[3], ["I", "am", "here"])).toBe(1);
    expect(gradeQuestion(questions[3], ["here", "am", "I"])).toBeCloseTo(1 / 3);
    expect(gradeQuestion(questions[3], ["I", "here", "am"])).toBeCloseTo(1 / 3);
    expect(gradeQuestion(questions[3], ["I", "am", "here", "now"])).toBe(0.75);
  });

  it("when a sheet is graded, then score, pass at 80 % and the expected answers of wrong questions are reported", () => {
    const all = gradeAttempt(questions, [
      { questionId: "q1", value: "cat" },
      { questionId: "q2", value: ["a", "c"] },
      { questionId: "q3", value: "washington d.c." },
      { questionId: "q4", value: ["I", "am", "here"] },
    ]);
    expect(all).toMatchObject({
      score: 40,
      maxScore: 40,
      passed: true,
      perfect: true,
      correctCount: 4,
    });

    const partial = gradeAttempt(questions, [
      { questionId: "q1", value: "cat" },
      { questionId: "q2", value: ["a"] },
      { questionId: "q3", value: "washington d.c." },
      { questionId: "q4", value: ["I", "am", "here"] },
    ]);
    expect(partial).toMatchObject({ score: 35, passed: true, perfect: false, correctCount: 3 });
    expect(partial.results[1]).toEqual({
      questionId: "q2",
      correct: false,
      credit: 0.5,
      expected: ["a", "c"],
    });

    const failed = gradeAttempt(questions, [
      { questionId: "q1", value: "cat" },
      { questionId: "q2", value: [] },
      { questionId: "q3", value: "" },
      { questionId: "q4", value: [] },
    ]);
    expect(failed).toMatchObject({ score: 10, passed: false });
    expect(failed.results.filter(r => !r.correct).map(r => r.questionId)).toEqual([
      "q2",
      "q3",
      "q4",
    ]);
  });

  it("when an answer names an unknown or repeated question, then the sheet is rejected", () => {
    expect(() => gradeAttempt(questions, [{ questionId: "nope", value: "x" }])).toThrow(
      "do not match",
    );
    expect(() =>
      gradeAttempt(questions, [
        { questionId: "q1", value: "cat" },
        { questionId: "q1", value: "dog" },
      ]),
    ).toThrow("do not match");
  });
});

describe("xp rules", () => {
  it("when a quiz is passed the first time, then answers + completion + perfect bonus count", () => {
    expect(attemptXp({ score: 40, passed: true, perfect: true }, true)).toEqual({
      answers: 40,
      completion: 20,
      perfect: 20,
      total: 80,
    });
    expect(attemptXp({ score: 35, passed: true, perfect: false }, true).total).toBe(55);
  });

  it("when a completed quiz is passed again, then only a quarter of the answer XP counts", () => {
    expect(attemptXp({ score: 40, passed: true, perfect: true }, false).total).toBe(10);
  });

  it("when an attempt fails, then it earns nothing", () => {
    expect(attemptXp({ score: 30, passed: false, perfect: false }, true).total).toBe(0);
  });

  it("when a reading lesson or review is done, then the fixed amounts apply", () => {
    expect(completionXp(true)).toBe(20);
    expect(completionXp(false)).toBe(0);
    expect(reviewXp(true)).toBe(2);
    expect(reviewXp(false)).toBe(0);
  });
});

function days(start: string, count: number, state: StreakState = EMPTY_STREAK): StreakState {
  let s = state;
  for (let i = 0; i < count; i += 1) s = recordActivity(s, addDays(start, i)).state;
  return s;
}

describe("the next local day", () => {
  it("when a day has no clock change, then it starts at the next local midnight", () => {
    expect(nextLocalDay(new Date("2026-11-18T12:34:56.789Z"), "UTC")).toEqual(
      new Date("2026-11-19T00:00:00Z"),
    );
    expect(nextLocalDay(new Date("2026-11-18T12:00:00Z"), "Asia/Tokyo")).toEqual(
      new Date("2026-11-18T15:00:00Z"),
    );
  });

  it("when clocks change before midnight, then it is still the first instant of the next date", () => {
    // Berlin: 2026-03-29 has 23 hours, 2026-10-25 has 25.
    expect(nextLocalDay(new Date("2026-03-29T00:30:00Z"), "Europe/Berlin")).toEqual(
      new Date("2026-03-29T22:00:00Z"),
    );
    expect(nextLocalDay(new Date("2026-10-25T00:30:00Z"), "Europe/Berlin")).toEqual(
      new Date("2026-10-25T23:00:00Z"),
    );
  });

  it("when clocks change at midnight itself, then the next date's first instant is found either way", () => {
    // Santiago: 2026-09-06 00:00 does not exist (01:00 at 04:00 UTC); 2026-04-05 00:00 comes an hour late.
    expect(nextLocalDay(new Date("2026-09-05T16:00:00Z"), "America/Santiago")).toEqual(
      new Date("2026-09-06T04:00:00Z"),
    );
    expect(nextLocalDay(new Date("2026-04-04T15:00:00Z"), "America/Santiago")).toEqual(
      new Date("2026-04-05T04:00:00Z"),
    );
  });
});

describe("streaks", () => {
  it("when a learner is active on consecutive local days, then the streak grows once a day", () => {
    let s = recordActivity(EMPTY_STREAK, "2026-03-01").state;
    s = recordActivity(s, "2026-03-01").state;
    s = recordActivity(s, "2026-03-02").state;
    expect(s).toEqual({ current: 2, longest: 2, lastActiveDate: "2026-03-02", freezes: 0 });
  });

  it("when a day is missed without a freeze, then the streak restarts and the longest is kept", () => {
    const s = recordActivity(days("2026-03-01", 5), "2026-03-07");
    expect(s.broken).toBe(true);
    expect(s.state).toMatchObject({ current: 1, longest: 5 });
  });

  it("when a 7-day streak is reached, then a freeze is earned (at most two) and a missed day uses it", () => {
    const week = days("2026-03-01", 7);
    expect(week.freezes).toBe(1);
    expect(days("2026-03-01", 21).freezes).toBe(2);
    expect(days("2026-03-01", 28).freezes).toBe(2);
    const after = recordActivity(week, "2026-03-09"); // 03-08 missed
    expect(after).toMatchObject({ freezesUsed: 1, broken: false });
    expect(after.state).toMatchObject({ current: 8, freezes: 0 });
    expect(settle(week, "2026-03-09")).toMatchObject({ current: 7, freezes: 0 });
    expect(settle(week, "2026-03-10").current).toBe(0);
  });

  it("when activity falls around midnight in the learner's zone, then the local date decides, not UTC", () => {
    // 23:30 in New York on 1 March is already 2 March in UTC.
    const lateEvening = new Date("2026-03-02T04:30:00Z");
    expect(localDate(lateEvening, "America/New_York")).toBe("2026-03-01");
    expect(localDate(lateEvening, "Asia/Tokyo")).toBe("2026-03-02");
    let s = recordActivity(
      EMPTY_STREAK,
      localDate(new Date("2026-03-01T15:00:00Z"), "America/New_York"),
    ).state;
    s = recordActivity(s, localDate(lateEvening, "America/New_York")).state;
    expect(s.current).toBe(1); // same New York day
  });

  it("when the clocks change for DST, then the 23-hour and 25-hour days each count once", () => {
    const tz = "Europe/Berlin"; // DST starts 2026-03-29, ends 2026-10-25
    const spring = [
      new Date("2026-03-28T22:30:00Z"),
      new Date("2026-03-29T21:30:00Z"),
      new Date("2026-03-30T00:30:00Z"),
    ];
    expect(spring.map(d => localDate(d, tz))).toEqual(["2026-03-28", "2026-03-29", "2026-03-30"]);
    let s = EMPTY_STREAK;
    for (const d of spring) s = recordActivity(s, localDate(d, tz)).state;
    expect(s.current).toBe(3);
    // Autumn: 00:30 and 23:30 local on the 25-hour day are 24 h apart in UTC but the same date.
    expect(localDate(new Date("2026-10-24T22:30:00Z"), tz)).toBe("2026-10-25");
    expect(localDate(new Date("2026-10-25T22:30:00Z"), tz)).toBe("2026-10-25");
    expect(localTime(new Date("2026-10-25T22:30:00Z"), tz).hour).toBe(23);
    expect(daysBetween("2026-03-28", "2026-03-30")).toBe(2);
  });

  it("when a learner moves west across time zones, then the earlier local date does not break or double the streak", () => {
    const tokyo = localDate(new Date("2026-03-10T01:00:00Z"), "Asia/Tokyo"); // 10:00 on the 10th
    const la = localDate(new Date("2026-03-10T12:00:00Z"), "America/Los_Angeles"); // 05:00 on the 10th
    let s = recordActivity(days("2026-03-07", 3), tokyo).state;
    expect(s.current).toBe(4);
    s = recordActivity(s, la).state;
    expect(s).toMatchObject({ current: 4, lastActiveDate: "2026-03-10" });
    expect(recordActivity(s, "2026-03-09").extended).toBe(false);
  });

  it("when today has not counted yet, then the live streak is at risk", () => {
    const s = days("2026-03-01", 3);
    expect(atRisk(s, "2026-03-03")).toBe(false);
    expect(atRisk(s, "2026-03-04")).toBe(true);
    expect(atRisk(s, "2026-03-06")).toBe(false); // already broken
  });
});

describe("weekly reset", () => {
  it("when the UTC ISO week changes on Monday, then the weekly board key changes", () => {
    expect(isoWeek(new Date("2026-11-22T23:59:59Z"))).toBe("2026-W47"); // Sunday
    expect(isoWeek(new Date("2026-11-23T00:00:00Z"))).toBe("2026-W48"); // Monday
    expect(isoWeek(new Date("2027-01-01T12:00:00Z"))).toBe("2026-W53");
    expect(isoWeek(new Date("2025-12-29T00:00:00Z"))).toBe("2026-W01");
  });
});

describe("fsrs", () => {
  it("when a card is reviewed good at each due time, then its intervals and stability grow", () => {
    let now = new Date("2026-01-01T09:00:00Z");
    let card = newCardState(now);
    const intervals: number[] = [];
    const stabilities: number[] = [];
    for (let i = 0; i < 6; i += 1) {
      const outcome = review(card, "good", now);
      intervals.push(outcome.card.due.getTime() - now.getTime());
      stabilities.push(outcome.card.stability);
      card = outcome.card;
      now = outcome.card.due;
    }
    // The first goods walk the learning steps (minutes); after that each interval is longer.
    const reviewIntervals = intervals.slice(2);
    for (let i = 1; i < reviewIntervals.length; i += 1)
      expect(reviewIntervals[i]).toBeGreaterThan(reviewIntervals[i - 1]);
    expect(stabilities[5]).toBeGreaterThan(stabilities[1]);
    expect(intervals[5]).toBeGreaterThan(7 * 86_400_000);
  });

  it("when a card is rated again, then it is due sooner than after good", () => {
    const now = new Date("2026-01-01T09:00:00Z");
    const card = review(review(newCardState(now), "good", now).card, "good", now).card;
    const later = card.due;
    expect(review(card, "again", later).card.due.getTime()).toBeLessThan(
      review(card, "good", later).card.due.getTime(),
    );
  });
});

describe("achievements", () => {
  it("when a snapshot meets rules, then exactly those codes are earned", () => {
    expect(ACHIEVEMENTS.map(a => a.code)).toEqual([
      "first_lesson",
      "perfect_quiz",
      "streak_3",
      "streak_7",
      "streak_30",
      "xp_100",
      "xp_1000",
      "course_completed",
    ]);
    const earned = earnedAchievements({
      completedLessons: 1,
      xp: 120,
      streak: 3,
      perfectQuiz: true,
      completedCourses: 0,
    });
    expect(earned.map(a => a.code)).toEqual(["first_lesson", "perfect_quiz", "streak_3", "xp_100"]);
  });
});
