import type { Transaction } from "sequelize";
import type { SkillMastery } from "../../../models/skill.model";
import {
  masteryOf,
  QUESTION_K,
  RATING_BOUND,
  type QuestionDifficulty,
  type SkillRating,
} from "../mastery";
import { exec, one, rows, S, type Db } from "./sql";

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

export interface QuestionKey {
  lessonId: string;
  questionId: string;
}

/** A question's key in the maps these functions answer. */
export const questionKey = (q: QuestionKey): string => `${q.lessonId}\u0000${q.questionId}`;

/** What an attempt's answers move, as the learner's transaction reads it. */
export interface MasteryState {
  /** The learner's ratings of the skills asked for, locked (a skill not yet rated is absent). */
  ratings: Map<string, SkillRating>;
  /** The questions' difficulties as last committed, not locked; a question never answered is absent. */
  difficulties: Map<string, QuestionDifficulty>;
}

/**
 * The learner's ratings of `skills` (locked for the caller's update) and the difficulties
 * of `questions` (read only: every learner's answers move them, so locking them in the
 * learner's transaction would make all attempts at one lesson wait for each other).
 */
export async function readMastery(
  db: Db,
  userId: string,
  skills: string[],
  questions: QuestionKey[],
  t: Transaction,
): Promise<MasteryState> {
  const row = await one<{
    ratings: Array<{ skill: string; rating: number; attempts: number }>;
    difficulties: Array<{
      lessonId: string;
      questionId: string;
      difficulty: number;
      answers: number;
    }>;
  }>(
    db,
    `WITH s AS (
       SELECT skill, rating, attempts FROM ${S}.skill_ratings
       WHERE user_id = :userId AND skill = ANY(ARRAY[:skills]::text[]) ORDER BY skill FOR UPDATE
     )
     SELECT
       COALESCE((SELECT json_agg(json_build_object('skill', skill, 'rating', rating, 'attempts', attempts)) FROM s), '[]') AS ratings,
       COALESCE((SELECT json_agg(json_build_object('lessonId', d.lesson_id, 'questionId', d.question_id,
           'difficulty', d.difficulty, 'answers', d.answers))
         FROM ${S}.question_difficulty d
         JOIN jsonb_to_recordset(:keys::jsonb) AS q("lessonId" text, "questionId" text)
           ON d.lesson_id = q."lessonId" AND d.question_id = q."questionId"), '[]') AS difficulties`,
    { userId, skills, keys: JSON.stringify(questions) },
    t,
  );
  return {
    ratings: new Map(
      (row?.ratings ?? []).map(r => [
        r.skill,
        { rating: Number(r.rating), attempts: Number(r.attempts) },
      ]),
    ),
    difficulties: new Map(
      (row?.difficulties ?? []).map(r => [
        questionKey(r),
        { difficulty: Number(r.difficulty), answers: Number(r.answers) },
      ]),
    ),
  };
}

/** Writes the learner's new ratings of their skills. */
export async function saveRatings(
  db: Db,
  userId: string,
  at: Date,
  ratings: Map<string, SkillRating>,
  t: Transaction,
): Promise<void> {
  if (ratings.size === 0) return;
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
}

/** One answer as it moves its question: the credit (0..1) and the mean rating θ̄ before it. */
export interface QuestionOutcome extends QuestionKey {
  credit: number;
  meanRating: number;
}

/**
 * services/progress/mastery.ts's question update, b ← b − K_question(m) · (o − σ(θ̄ − b)),
 * computed by PostgreSQL on the row as it is when the statement updates it: answers of
 * several learners at once each move the difficulty from the one before, whatever
 * difficulty their own transaction read, and each row is locked only for this statement.
 */
const MOVED = (b: string, m: string) =>
  `GREATEST(-${RATING_BOUND}, LEAST(${RATING_BOUND}, ${b} - GREATEST(${QUESTION_K.min}, ${QUESTION_K.k0} / (1 + ${QUESTION_K.decay} * ${m}))
     * (a.credit - 1 / (1 + exp(-(a.mean_rating - ${b}))))))`;

/** Moves the questions' difficulties by these answers, in a statement of its own. */
export async function moveDifficulties(db: Db, outcomes: QuestionOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await exec(
    db,
    `WITH a AS (
       SELECT DISTINCT ON (a."lessonId", a."questionId") a."lessonId" AS lesson_id,
         a."questionId" AS question_id, a.credit, a."meanRating" AS mean_rating
       FROM jsonb_to_recordset(:outcomes::jsonb)
         AS a("lessonId" text, "questionId" text, credit float8, "meanRating" float8)
       ORDER BY 1, 2
     )
     INSERT INTO ${S}.question_difficulty AS d (lesson_id, question_id, difficulty, answers)
     SELECT a.lesson_id, a.question_id, ${MOVED("0", "0")}, 1 FROM a ORDER BY 1, 2
     ON CONFLICT (lesson_id, question_id) DO UPDATE SET
       difficulty = (SELECT ${MOVED("d.difficulty", "d.answers")} FROM a
                      WHERE a.lesson_id = d.lesson_id AND a.question_id = d.question_id),
       answers = d.answers + 1`,
    { outcomes: JSON.stringify(outcomes) },
  );
}
