import type { Transaction } from "sequelize";
import type { AuthUser } from "../../models/auth.model";
import type { QuestionResult } from "../../models/attempt.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { SkillMastery } from "../../models/skill.model";
import type { ProgressDeps } from "./deps";
import { rateAnswer } from "./mastery";
import * as store from "./store";

/** A graded answer as mastery counts it: the question, its skills and the credit it earned. */
export interface MasteryAnswer extends store.QuestionKey {
  skills: string[];
  credit: number;
}

/** A question's own skills, else its lesson's. */
export function skillsOfQuestion(
  lesson: Pick<LessonForGrading, "skills">,
  question: Pick<LessonForGrading["questions"][number], "skills">,
): string[] {
  return question.skills?.length ? question.skills : (lesson.skills ?? []);
}

/** The answers of a graded attempt at one lesson, each with the skills it counts for. */
export function lessonAnswers(
  lesson: Pick<LessonForGrading, "id" | "skills" | "questions">,
  results: QuestionResult[],
): MasteryAnswer[] {
  const questions = new Map(lesson.questions.map(q => [q.id, q]));
  return results.flatMap(r => {
    const question = questions.get(r.questionId);
    if (!question) return [];
    const skills = skillsOfQuestion(lesson, question);
    return [{ lessonId: lesson.id, questionId: r.questionId, skills, credit: r.credit }];
  });
}

/**
 * Every graded answer moves the learner's ratings of its skills and the question's difficulty
 * (services/progress/mastery.ts). The ratings move in the attempt's transaction (the caller
 * holds the learner's row lock; one statement reads them, one writes them). The difficulties,
 * which every learner's answers move, move once the attempt is committed, in one statement
 * that locks their rows only while it runs (store.moveDifficulties): no learner's attempt waits
 * for another's commit. Answers without skills count for nothing here.
 */
export async function recordMastery(
  deps: Pick<ProgressDeps, "db" | "logger">,
  input: { userId: string; at: Date; answers: MasteryAnswer[] },
  t: Transaction,
): Promise<void> {
  const answers = input.answers.filter(a => a.skills.length > 0);
  if (answers.length === 0) return;
  const skills = [...new Set(answers.flatMap(a => a.skills))].sort();
  const { ratings, difficulties } = await store.readMastery(
    deps.db,
    input.userId,
    skills,
    answers.map(a => ({ lessonId: a.lessonId, questionId: a.questionId })),
    t,
  );
  const outcomes: store.QuestionOutcome[] = answers.map(answer => {
    const question = difficulties.get(store.questionKey(answer)) ?? { difficulty: 0, answers: 0 };
    const before = answer.skills.map(s => ratings.get(s) ?? { rating: 0, attempts: 0 });
    const after = rateAnswer(before, question, answer.credit);
    answer.skills.forEach((skill, i) => ratings.set(skill, after.skills[i]));
    return {
      lessonId: answer.lessonId,
      questionId: answer.questionId,
      credit: Math.max(0, Math.min(1, answer.credit)),
      meanRating: before.reduce((sum, s) => sum + s.rating, 0) / before.length,
    };
  });
  await store.saveRatings(deps.db, input.userId, input.at, ratings, t);
  t.afterCommit(async () => {
    // The attempt stands without it: a difficulty that missed one answer learns from the next.
    await store
      .moveDifficulties(deps.db, outcomes)
      .catch((err: Error) => deps.logger.warn(`question difficulties not moved: ${err.message}`));
  });
}

/** More skills than any course teaches: GET /me/skills answers them all. */
const MAX_SKILLS_LISTED = 1000;

/** GET /me/skills: every skill the learner has answered on, weakest first. */
export function mySkills(
  deps: Pick<ProgressDeps, "db">,
  actor: Pick<AuthUser, "id">,
): Promise<SkillMastery[]> {
  return store.weakestSkills(deps.db, actor.id, MAX_SKILLS_LISTED);
}
