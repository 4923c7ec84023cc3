import crypto from "node:crypto";
import { actorOf } from "../../lib/auth/guard";
import type { AttemptAnswer, AttemptResult } from "../../models/attempt.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { PracticeQuiz } from "../../models/skill.model";
import { grade } from "./attempts";
import { applyAward } from "./awards";
import { localDate, safeTimeZone } from "./clock";
import type { Ctx, ProgressThis } from "./context";
import { nothingToPractise, practiceGraded } from "./errors";
import { guarded, settledAnswer } from "./idempotency";
import { skillsOfQuestion, recordMastery } from "./skills";
import * as remote from "./remote";
import * as store from "./store";
import { practiceXp } from "./xp";

/**
 * Practice quizzes (docs/learning-rules.md, "Practice"): questions drawn from the published
 * quizzes the learner has completed, weakest skills first, graded once through
 * POST /lessons/:id/attempts with the quiz's id, paying practice XP (xp.ts) and moving mastery.
 */

/** Questions in one practice quiz. */
const PRACTICE_QUESTIONS = 10;
/** The most recently completed quizzes a practice quiz draws on. */
const SOURCE_LESSONS = 30;
/** More skills than any learner has: every rating is read. */
const ALL_SKILLS = 1000;

export interface PracticeDeps {
  db: store.Db;
  now(): Date;
  /** Content's grading view of a published lesson; undefined when the lesson is gone. */
  lesson(lessonId: string): Promise<LessonForGrading | undefined>;
}

interface Candidate {
  lesson: LessonForGrading;
  question: LessonForGrading["questions"][number];
  skills: string[];
  /** The lowest mastery among its skills; 1 (last) for a question without skills. */
  weakness: number;
  tie: number;
}

/** The published quizzes a learner has completed and may still learn (premium lapsed: not those). */
async function sourceLessons(deps: PracticeDeps, userId: string): Promise<LessonForGrading[]> {
  const ids = await store.completedQuizzes(deps.db, userId, SOURCE_LESSONS);
  const found = (await Promise.all(ids.map(id => deps.lesson(id)))).filter(
    (l): l is LessonForGrading => l !== undefined,
  );
  const premium =
    found.some(l => l.courseAccess === "premium") && (await store.holdsPremium(deps.db, userId));
  return found.filter(l => l.courseAccess !== "premium" || premium);
}

/** POST /me/practice */
export async function startPractice(
  deps: PracticeDeps,
  input: { skill?: string },
  actor: { id: string },
): Promise<PracticeQuiz> {
  const skill = input.skill ?? null;
  const lessons = await sourceLessons(deps, actor.id);
  const mastery = new Map(
    (await store.weakestSkills(deps.db, actor.id, ALL_SKILLS)).map(s => [s.skill, s.mastery]),
  );
  const candidates = lessons
    .flatMap(lesson =>
      lesson.questions.map<Candidate>(question => {
        const skills = skillsOfQuestion(lesson, question);
        const weakness =
          skills.length > 0 ? Math.min(...skills.map(s => mastery.get(s) ?? 0.5)) : 1;
        return { lesson, question, skills, weakness, tie: crypto.randomInt(1 << 30) };
      }),
    )
    .filter(c => c.question.shown !== undefined && (skill === null || c.skills.includes(skill)));
  if (candidates.length === 0) throw nothingToPractise(skill);
  const picked = candidates
    .sort((a, b) => a.weakness - b.weakness || a.tie - b.tie)
    .slice(0, PRACTICE_QUESTIONS);
  const id = crypto.randomUUID();
  const items = picked.map((c, i) => ({
    id: `q${i + 1}`,
    lessonId: c.lesson.id,
    questionId: c.question.id,
  }));
  await store.insertPractice(deps.db, { id, userId: actor.id, skill, items, at: deps.now() });
  return {
    id,
    questions: picked.flatMap((c, i) =>
      c.question.shown ? [{ ...c.question.shown, id: items[i].id }] : [],
    ),
  };
}

/** What the practice use cases need, for one request. */
export function practiceDepsOf(svc: ProgressThis, ctx: Ctx<unknown>): PracticeDeps {
  return { db: svc, now: () => svc.now(), lesson: id => remote.lessonIfPublished(ctx, id) };
}

/** The learner's practice quiz named by POST /lessons/:id/attempts, if the id is one. */
export function practiceQuizOf(
  db: store.Db,
  id: string,
  userId: string,
): Promise<store.PracticeRow | undefined> {
  return store.findPractice(db, id, userId);
}

/** POST /lessons/:id/attempts for a practice quiz: graded once, practice XP, mastery. */
export async function gradePractice(
  svc: ProgressThis,
  ctx: Ctx<{ id: string; answers: AttemptAnswer[] }>,
  deps: PracticeDeps,
  quiz: store.PracticeRow,
): Promise<AttemptResult> {
  const userId = actorOf(ctx).id;
  const { id, answers } = ctx.params;
  const settled = await settledAnswer<AttemptResult>(svc, ctx, "practice", { id, answers });
  if (settled) return settled;
  if (quiz.graded_at) throw practiceGraded(id);
  const lessonIds = [...new Set(quiz.items.map(item => item.lessonId))];
  const lessons = new Map(
    (await Promise.all(lessonIds.map(lessonId => deps.lesson(lessonId))))
      .filter((l): l is LessonForGrading => l !== undefined)
      .map(l => [l.id, l]),
  );
  // A question whose lesson was taken down meanwhile leaves the quiz.
  const sources = quiz.items.flatMap(item => {
    const lesson = lessons.get(item.lessonId);
    const question = lesson?.questions.find(q => q.id === item.questionId);
    return lesson && question ? [{ item, lesson, question }] : [];
  });
  if (sources.length === 0) throw nothingToPractise(null);
  const graded = grade(
    sources.map(s => ({ ...s.question, id: s.item.id })),
    answers,
  );
  const now = deps.now();
  const emit = svc.emitter(ctx);
  return guarded<AttemptResult>(svc, ctx, "practice", { id, answers }, 201, async (t, learner) => {
    const current = await store.findPractice(svc, id, userId, t);
    if (!current || current.graded_at) throw practiceGraded(id);
    const day = localDate(now, safeTimeZone(learner.timezone));
    const xp = practiceXp(graded.correctCount, await store.practiceXpOn(svc, userId, day, t));
    const award = await applyAward(
      { db: svc, emit },
      { learner, now, xp, reason: "attempt", ref: id, attempts: 1 },
      t,
    );
    await store.markPracticeGraded(svc, { id, at: now, localDate: day, xp }, t);
    await recordMastery(
      svc,
      {
        userId,
        at: now,
        answers: sources.map((s, i) => ({
          lessonId: s.item.lessonId,
          questionId: s.item.questionId,
          skills: skillsOfQuestion(s.lesson, s.question),
          credit: graded.results[i].credit,
        })),
      },
      t,
    );
    const response: AttemptResult = {
      attemptId: id,
      lessonId: id,
      score: graded.score,
      maxScore: graded.maxScore,
      passed: graded.passed,
      xpEarned: xp,
      results: graded.results,
    };
    return { response, award };
  });
}
