import type { Transaction } from "sequelize";
import type { SkillMastery } from "../../../models/skill.model";
import { masteryOf, type QuestionDifficulty, type SkillRating } from "../mastery";
import { exec, rows, S, type Db } from "./sql";

/** Skill ratings per learner, learned question difficulties, and practice quizzes. */

interface SkillRow {
  skill: string;
  rating: number;
  attempts: number;
  last_practiced_at: Date;
}

function masteryRow(r: SkillRow): SkillMastery {
  return {
    skill: r.skill,
    mastery: masteryOf(Number(r.rating)),
    attempts: Number(r.attempts),
    lastPracticedAt: new Date(r.last_practiced_at).toISOString(),
  };
}

const SKILL_COLUMNS = "skill, rating, attempts, last_practiced_at";

/**
 * The learner's `limit` weakest skills, weakest first (lowest rating; among equals the one
 * practised longest ago). Only skills the learner has answered on: a skill never met is not weak.
 */
export async function weakestSkills(
  db: Db,
  userId: string,
  limit: number,
  t?: Transaction,
): Promise<SkillMastery[]> {
  const found = await rows<SkillRow>(
    db,
    `SELECT ${SKILL_COLUMNS} FROM ${S}.skill_ratings WHERE user_id = :userId
     ORDER BY rating, last_practiced_at, skill LIMIT :limit`,
    { userId, limit },
    t,
  );
  return found.map(masteryRow);
}

/** The learner's ratings of these skills (a skill not yet rated is absent). */
export async function lockSkillRatings(
  db: Db,
  userId: string,
  skills: string[],
  t: Transaction,
): Promise<Map<string, SkillRating>> {
  if (skills.length === 0) return new Map();
  const found = await rows<SkillRow>(
    db,
    `SELECT ${SKILL_COLUMNS} FROM ${S}.skill_ratings
     WHERE user_id = :userId AND skill IN (:skills) ORDER BY skill FOR UPDATE`,
    { userId, skills },
    t,
  );
  return new Map(
    found.map(r => [r.skill, { rating: Number(r.rating), attempts: Number(r.attempts) }]),
  );
}

export interface QuestionKey {
  lessonId: string;
  questionId: string;
}

/** A question's key in the maps these functions answer. */
export const questionKey = (q: QuestionKey): string => `${q.lessonId}\u0000${q.questionId}`;

/**
 * The difficulties of these questions, locked for the caller's update; a question never
 * answered starts at 0. Locked in key order, so two learners' attempts never deadlock.
 */
export async function lockQuestionDifficulties(
  db: Db,
  questions: QuestionKey[],
  t: Transaction,
): Promise<Map<string, QuestionDifficulty>> {
  const keys = JSON.stringify(questions);
  await exec(
    db,
    `INSERT INTO ${S}.question_difficulty (lesson_id, question_id, difficulty, answers)
     SELECT q."lessonId", q."questionId", 0, 0
       FROM jsonb_to_recordset(:keys::jsonb) AS q("lessonId" text, "questionId" text)
     ORDER BY 1, 2
     ON CONFLICT (lesson_id, question_id) DO NOTHING`,
    { keys },
    t,
  );
  const found = await rows<{
    lesson_id: string;
    question_id: string;
    difficulty: number;
    answers: number;
  }>(
    db,
    `SELECT d.lesson_id, d.question_id, d.difficulty, d.answers
       FROM ${S}.question_difficulty d
       JOIN jsonb_to_recordset(:keys::jsonb) AS q("lessonId" text, "questionId" text)
         ON d.lesson_id = q."lessonId" AND d.question_id = q."questionId"
     ORDER BY d.lesson_id, d.question_id FOR UPDATE OF d`,
    { keys },
    t,
  );
  return new Map(
    found.map(r => [
      questionKey({ lessonId: r.lesson_id, questionId: r.question_id }),
      { difficulty: Number(r.difficulty), answers: Number(r.answers) },
    ]),
  );
}

/** Writes the learner's new ratings and the questions' new difficulties. */
export async function saveRatings(
  db: Db,
  userId: string,
  at: Date,
  ratings: Map<string, SkillRating>,
  difficulties: Map<string, QuestionDifficulty & QuestionKey>,
  t: Transaction,
): Promise<void> {
  if (ratings.size > 0)
    await exec(
      db,
      `INSERT INTO ${S}.skill_ratings (user_id, skill, rating, attempts, last_practiced_at)
       SELECT :userId, r.skill, r.rating, r.attempts, :at
         FROM jsonb_to_recordset(:ratings::jsonb) AS r(skill text, rating float8, attempts int)
       ON CONFLICT (user_id, skill) DO UPDATE SET rating = EXCLUDED.rating,
         attempts = EXCLUDED.attempts, last_practiced_at = EXCLUDED.last_practiced_at`,
      {
        userId,
        at,
        ratings: JSON.stringify([...ratings].map(([skill, r]) => ({ skill, ...r }))),
      },
      t,
    );
  if (difficulties.size > 0)
    await exec(
      db,
      `UPDATE ${S}.question_difficulty d SET difficulty = q.difficulty, answers = q.answers
         FROM jsonb_to_recordset(:questions::jsonb)
           AS q("lessonId" text, "questionId" text, difficulty float8, answers int)
        WHERE d.lesson_id = q."lessonId" AND d.question_id = q."questionId"`,
      { questions: JSON.stringify([...difficulties.values()]) },
      t,
    );
}
