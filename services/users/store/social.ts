import type { Transaction } from "sequelize";
import { execute, selectRows } from "../../../lib/db/sql";
import type { ProfileVisibility, PublicProfile } from "../../../models/user.model";
import { tableOf, type UsersDb } from "./db";

/** Who follows whom and who blocked whom (the follows and blocks tables of the users schema). */

export interface SocialTarget {
  id: string;
  profileVisibility: ProfileVisibility;
  /** The target blocked the viewer, or the viewer the target. */
  blocked: boolean;
  /** The viewer follows the target. */
  following: boolean;
}

/** An active account as `viewerId` relates to it; undefined when there is no such active account. */
export async function relationTo(
  db: UsersDb,
  viewerId: string,
  targetId: string,
): Promise<SocialTarget | undefined> {
  const [row] = await selectRows<SocialTarget>(
    db.sequelize,
    `SELECT u.id, u.profile_visibility AS "profileVisibility",
       EXISTS (SELECT 1 FROM ${tableOf(db, "blocks")} b
               WHERE (b.blocker_id = u.id AND b.blocked_id = $1) OR (b.blocker_id = $1 AND b.blocked_id = u.id)) AS blocked,
       EXISTS (SELECT 1 FROM ${tableOf(db, "follows")} f
               WHERE f.follower_id = $1 AND f.followee_id = u.id) AS following
     FROM ${tableOf(db, "users")} u WHERE u.id = $2 AND u.status = 'active'`,
    { bind: [viewerId, targetId] },
  );
  return row;
}

/** Names matching `pattern` (ILIKE), except private profiles and either side of a block. */
export function searchProfiles(
  db: UsersDb,
  viewerId: string,
  pattern: string,
  limit: number,
): Promise<PublicProfile[]> {
  return selectRows<PublicProfile>(
    db.sequelize,
    `SELECT u.id, u.name, u.avatar_url AS "avatarUrl" FROM ${tableOf(db, "users")} u
     WHERE u.name ILIKE $2 AND u.id <> $1 AND u.status = 'active' AND u.profile_visibility <> 'private'
       AND NOT EXISTS (SELECT 1 FROM ${tableOf(db, "blocks")} b
                       WHERE (b.blocker_id = u.id AND b.blocked_id = $1) OR (b.blocker_id = $1 AND b.blocked_id = u.id))
     ORDER BY u.name, u.id LIMIT $3`,
    { bind: [viewerId, pattern, limit] },
  );
}

/** Answers whether the follow is new (following twice changes nothing). */
export async function follow(
  db: UsersDb,
  t: Transaction,
  followerId: string,
  followeeId: string,
): Promise<boolean> {
  const count = await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "follows")} (follower_id, followee_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    { bind: [followerId, followeeId], transaction: t },
  );
  return count === 1;
}

export async function unfollow(db: UsersDb, followerId: string, followeeId: string): Promise<void> {
  await execute(
    db.sequelize,
    `DELETE FROM ${tableOf(db, "follows")} WHERE follower_id = $1 AND followee_id = $2`,
    { bind: [followerId, followeeId] },
  );
}

/** A block ends the follows both ways, in the same transaction. */
export async function block(
  db: UsersDb,
  t: Transaction,
  blockerId: string,
  blockedId: string,
): Promise<void> {
  await execute(
    db.sequelize,
    `INSERT INTO ${tableOf(db, "blocks")} (blocker_id, blocked_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
    { bind: [blockerId, blockedId], transaction: t },
  );
  await execute(
    db.sequelize,
    `DELETE FROM ${tableOf(db, "follows")}
     WHERE (follower_id = $1 AND followee_id = $2) OR (follower_id = $2 AND followee_id = $1)`,
    { bind: [blockerId, blockedId], transaction: t },
  );
}

export async function unblock(db: UsersDb, blockerId: string, blockedId: string): Promise<void> {
  await execute(
    db.sequelize,
    `DELETE FROM ${tableOf(db, "blocks")} WHERE blocker_id = $1 AND blocked_id = $2`,
    { bind: [blockerId, blockedId] },
  );
}

/** The people on one side of the user's relations: whom they follow, who follows them, whom they blocked. */
export type RelationList = "following" | "followers" | "blocked";

const LIST_SQL: Record<RelationList, { table: string; mine: string; theirs: string }> = {
  following: { table: "follows", mine: "follower_id", theirs: "followee_id" },
  followers: { table: "follows", mine: "followee_id", theirs: "follower_id" },
  blocked: { table: "blocks", mine: "blocker_id", theirs: "blocked_id" },
};

export function relationList(
  db: UsersDb,
  userId: string,
  list: RelationList,
): Promise<PublicProfile[]> {
  const { table, mine, theirs } = LIST_SQL[list];
  return selectRows<PublicProfile>(
    db.sequelize,
    `SELECT u.id, u.name, u.avatar_url AS "avatarUrl"
     FROM ${tableOf(db, table)} r JOIN ${tableOf(db, "users")} u ON u.id = r.${theirs}
     WHERE r.${mine} = $1 AND u.status = 'active' ORDER BY r.created_at DESC, u.id`,
    { bind: [userId] },
  );
}
