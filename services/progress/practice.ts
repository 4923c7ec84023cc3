import crypto from "node:crypto";
import type { AuthUser } from "../../models/auth.model";
import type { AttemptAnswer, AttemptResult } from "../../models/attempt.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { PracticeQuiz } from "../../models/skill.model";
import { grade } from "./attempts";
import { applyAward } from "./awards";
import { localDate, safeTimeZone } from "./clock";
import type { Caller, ProgressDeps, RequestCtx } from "./deps";
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

interface Candidate {
  lesson: LessonForGrading;
  question: LessonForGrading["questions"][number];
  skills: string[];
  /** The lowest mastery among its skills; 1 (last) for a question without skills. */
  weakness: number;
  tie: number;
}

/** The published quizzes a learner has completed and may still learn (premium lapsed: not those). */
async function sourceLessons(
  deps: ProgressDeps,
  userId: string,
  caller?: Caller,
): Promise<LessonForGrading[]> {
  const ids = await store.completedQuizzes(deps.db, userId, SOURCE_LESSONS);
  const found = (
    await Promise.all(ids.map(id => remote.lessonIfPublished(deps, id, caller)))
  ).filter((l): l is LessonForGrading => l !== undefined);
  const premium =
    found.some(l => l.courseAccess === "premium") && (await store.holdsPremium(deps.db, userId));
  return found.filter(l => l.courseAccess !== "premium" || premium);
}

/** POST /me/practice */
export async function startPractice(
  deps: ProgressDeps,
  input: { skill?: string },
  actor: Pick<AuthUser, "id">,
  caller?: Caller,
): Promise<PracticeQuiz> {
  const skill = input.skill ?? null;
  const lessons = await sourceLessons(deps, actor.id, caller);
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

/** The learner's practice quiz named by POST /lessons/:id/attempts, if the id is one. */
export async function practiceQuizOf(
  deps: Pick<ProgressDeps, "db" | "contentCopy">,
  id: string,
  actor: Pick<AuthUser, "id">,
): Promise<store.PracticeRow | undefined> {
  // A lesson's id (practice quizzes have random UUIDs of their own): no statement to find out.
  if (remote.holdsLesson(deps, id)) return undefined;
  return store.findPractice(deps.db, id, actor.id);
}

/** POST /lessons/:id/attempts for a practice quiz: graded once, practice XP, mastery. */
export async function gradePractice(
  deps: ProgressDeps,
  input: { id: string; answers: AttemptAnswer[] },
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
  quiz: store.PracticeRow,
): Promise<AttemptResult> {
  const userId = actor.id;
  const { id, answers } = input;
  const settled = await settledAnswer<AttemptResult>(deps, ctx, actor, "practice", {
    id,
    answers,
  });
  if (settled) return settled;
  if (quiz.graded_at) throw practiceGraded(id);
  const lessonIds = [...new Set(quiz.items.map(item => item.lessonId))];
  const lessons = new Map(
    (await Promise.all(lessonIds.map(lessonId => remote.lessonIfPublished(deps, lessonId, ctx))))
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
  const body = { id, answers };
  return guarded<AttemptResult>(
    deps,
    ctx,
    actor,
    "practice",
    body,
    201,
    async (t, learner, emit) => {
      const current = await store.findPractice(deps.db, id, userId, t);
      if (!current || current.graded_at) throw practiceGraded(id);
      const day = localDate(now, safeTimeZone(learner.timezone));
      const xp = practiceXp(graded.correctCount, await store.practiceXpOn(deps.db, userId, day, t));
      const award = await applyAward(
        // No xAPI statement: those tell attempts at lessons (xapi.ts), not practice quizzes.
        { db: deps.db, emit },
        { learner, now, xp, reason: "attempt", ref: id, attempts: 1 },
        t,
      );
      await store.markPracticeGraded(deps.db, { id, at: now, localDate: day, xp }, t);
      await recordMastery(
        deps,
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
    },
  );
}
