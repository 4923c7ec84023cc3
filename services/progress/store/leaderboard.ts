import type { LeaderboardSource } from "../leaderboard";
import { count, one, rows, S, type Db } from "./sql";

/** The scores the leaderboards are built and rebuilt from (PostgreSQL is the truth). */

async function allTimeScores(db: Db): Promise<Array<{ userId: string; xp: number }>> {
  return rows(db, `SELECT user_id AS "userId", xp FROM ${S}.learners WHERE xp > 0`);
}

async function weeklyScores(db: Db, week: string): Promise<Array<{ userId: string; xp: number }>> {
  return rows(
    db,
    `SELECT user_id AS "userId", xp FROM ${S}.weekly_xp WHERE iso_week = :week AND xp > 0`,
    { week },
  );
}

async function learnerNames(db: Db, ids: string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const found = await rows<{ user_id: string; name: string }>(
    db,
    `SELECT user_id, name FROM ${S}.learners WHERE user_id IN (:ids)`,
    { ids },
  );
  return new Map(found.map(r => [r.user_id, r.name]));
}

/** Top and rank straight from PostgreSQL: the stand-in when no Redis is configured. Ties order by user id, as Redis does. */
async function sqlTop(
  db: Db,
  week: string | null,
  limit: number,
): Promise<Array<{ userId: string; xp: number }>> {
  if (week === null) {
    return rows(
      db,
      `SELECT user_id AS "userId", xp FROM ${S}.learners WHERE xp > 0 ORDER BY xp DESC, user_id DESC LIMIT :limit`,
      { limit },
    );
  }
  return rows(
    db,
    `SELECT user_id AS "userId", xp FROM ${S}.weekly_xp WHERE iso_week = :week AND xp > 0 ORDER BY xp DESC, user_id DESC LIMIT :limit`,
    { week, limit },
  );
}

async function sqlRank(
  db: Db,
  week: string | null,
  userId: string,
): Promise<{ rank: number | null; xp: number }> {
  const table = week === null ? `${S}.learners` : `${S}.weekly_xp`;
  const scope = week === null ? "TRUE" : "iso_week = :week";
  const mine = await one<{ xp: number }>(
    db,
    `SELECT xp FROM ${table} WHERE ${scope} AND user_id = :userId`,
    { week, userId },
  );
  const xp = mine?.xp ?? 0;
  if (xp <= 0) return { rank: null, xp: 0 };
  const ahead = await count(
    db,
    `SELECT COUNT(*) AS n FROM ${table} WHERE ${scope} AND (xp > :xp OR (xp = :xp AND user_id > :userId))`,
    { week, xp, userId },
  );
  return { rank: ahead + 1, xp };
}

/** The scores of a few learners (a follow circle), best first; ties by user id, as the boards order them. */
export async function circleScores(
  db: Db,
  week: string | null,
  ids: string[],
): Promise<Array<{ userId: string; xp: number }>> {
  const table = week === null ? `${S}.learners` : `${S}.weekly_xp`;
  const scope = week === null ? "TRUE" : "iso_week = :week";
  return rows(
    db,
    `SELECT user_id AS "userId", xp FROM ${table}
     WHERE ${scope} AND xp > 0 AND user_id IN (:ids) ORDER BY xp DESC, user_id DESC`,
    { week, ids },
  );
}

export const circleNames = learnerNames;

/** The leaderboards' view of PostgreSQL. */
export function leaderboardSource(db: Db): LeaderboardSource {
  return {
    scores: week => (week === null ? allTimeScores(db) : weeklyScores(db, week)),
    names: ids => learnerNames(db, ids),
    top: (week, limit) => sqlTop(db, week, limit),
    rank: (week, userId) => sqlRank(db, week, userId),
  };
}
