import type { Transaction } from "sequelize";
import type { CefrLevel } from "../../../models/course.model";
import type { PlacedLevel } from "../../../models/placement.model";
import { exec, one, S, type Db } from "./sql";

/**
 * Placement tests (docs/learning-rules.md, "Placement"): a row per test, read under a row lock
 * by whichever progress node takes the next answer. No answer key is ever stored here.
 */

/** One answer of a test: the question, the difficulty it was graded at, and whether it was right. */
export interface PlacementAnswer {
  questionId: string;
  difficulty: number;
  correct: boolean;
}

export interface PlacementRow {
  id: string;
  user_id: string;
  responses: PlacementAnswer[];
  /** The question asked now; null once the test is finished. */
  current_question_id: string | null;
  finished_at: Date | null;
  level: CefrLevel | null;
  confidence: number | null;
}

export async function insertPlacement(
  db: Db,
  test: { id: string; userId: string; startedAt: Date; questionId: string },
  t: Transaction,
): Promise<void> {
  await exec(
    db,
    `INSERT INTO ${S}.placement_tests (id, user_id, started_at, current_question_id)
     VALUES (:id, :userId, :startedAt, :questionId)`,
    test,
    t,
  );
}

/** The learner's own test, locked for the answer being recorded; someone else's is not found. */
export function lockPlacement(
  db: Db,
  id: string,
  userId: string,
  t: Transaction,
): Promise<PlacementRow | undefined> {
  return one<PlacementRow>(
    db,
    `SELECT id, user_id, responses, current_question_id, finished_at, level, confidence
     FROM ${S}.placement_tests WHERE id = :id AND user_id = :userId FOR UPDATE`,
    { id, userId },
    t,
  );
}

/** The answers so far and the next question, or (with `result`) the end of the test. */
export async function savePlacementStep(
  db: Db,
  step: {
    id: string;
    responses: PlacementAnswer[];
    next: { questionId: string } | { level: CefrLevel; confidence: number; finishedAt: Date };
  },
  t: Transaction,
): Promise<void> {
  const finished = "level" in step.next ? step.next : undefined;
  await exec(
    db,
    `UPDATE ${S}.placement_tests SET responses = :responses::jsonb,
       current_question_id = :questionId, finished_at = :finishedAt, level = :level,
       confidence = :confidence
     WHERE id = :id`,
    {
      id: step.id,
      responses: JSON.stringify(step.responses),
      questionId: "questionId" in step.next ? step.next.questionId : null,
      finishedAt: finished?.finishedAt ?? null,
      level: finished?.level ?? null,
      confidence: finished?.confidence ?? null,
    },
    t,
  );
}

/**
 * The level of the learner's latest finished placement test, null before any: progress's own
 * copy of what users shows as `level` (read by what suggests a course at the learner's level).
 */
export async function placedLevel(db: Db, userId: string): Promise<PlacedLevel | null> {
  const row = await one<{ level: CefrLevel; confidence: number; finished_at: Date }>(
    db,
    `SELECT level, confidence, finished_at FROM ${S}.placement_tests
     WHERE user_id = :userId AND finished_at IS NOT NULL
     ORDER BY finished_at DESC, id DESC LIMIT 1`,
    { userId },
  );
  if (!row) return null;
  return {
    level: row.level,
    confidence: Number(row.confidence),
    placedAt: new Date(row.finished_at).toISOString(),
  };
}
