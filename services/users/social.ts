import type { Context } from "moleculer";
import type { LearnerPublicStats } from "../../models/progress.model";
import type { PublicProfile } from "../../models/user.model";
import { findUser } from "./accounts";
import type { UsersDeps } from "./deps";
import { cannotRelateToSelf, userNotFound } from "./errors";
import * as store from "./store/social";

/**
 * Following friends (api.md "Social"). A profile is public (anyone), followers (those who
 * follow it) or private (its owner only); a block, either way, hides each from the other: the
 * blocked cannot follow, find or see the blocker — and the blocker does not see them in search.
 * Every refusal is a 404, as for a user who does not exist.
 */

const SEARCH_LIMIT = 20;

export interface ProfilePage extends PublicProfile, LearnerPublicStats {}

/** Whether `target` shows its page to the viewer. */
function visible(target: store.SocialTarget, viewerId: string): boolean {
  if (target.id === viewerId) return true;
  if (target.blocked) return false;
  if (target.profileVisibility === "public") return true;
  return target.profileVisibility === "followers" && target.following;
}

export function searchUsers(
  deps: UsersDeps,
  viewerId: string,
  q: string,
): Promise<PublicProfile[]> {
  const pattern = `%${q.replace(/[\\%_]/g, ch => `\\${ch}`)}%`;
  return store.searchProfiles(deps.db, viewerId, pattern, SEARCH_LIMIT);
}

export async function profilePage(
  deps: UsersDeps,
  viewerId: string,
  targetId: string,
  ctx: Pick<Context, "requestID">,
): Promise<ProfilePage> {
  const target = await store.relationTo(deps.db, viewerId, targetId);
  if (!target || !visible(target, viewerId)) throw userNotFound(targetId);
  const [user, stats] = await Promise.all([findUser(deps, targetId), deps.statsOf(targetId, ctx)]);
  if (!user) throw userNotFound(targetId);
  return { id: user.id, name: user.name, avatarUrl: user.avatarUrl, ...stats };
}

/** A user one may follow: active, not oneself, no block either way, a profile that is not private. */
export async function followUser(
  deps: UsersDeps,
  followerId: string,
  targetId: string,
  ctx: Pick<Context, "requestID">,
): Promise<void> {
  if (followerId === targetId) throw cannotRelateToSelf();
  const target = await store.relationTo(deps.db, followerId, targetId);
  if (!target || target.blocked || target.profileVisibility === "private") {
    throw userNotFound(targetId);
  }
  await deps.withTransaction(async t => {
    if (await store.follow(deps.db, t, followerId, targetId)) {
      await deps.emitDurable(
        "social.followed",
        { userId: targetId, followerId },
        { transaction: t, ctx },
      );
    }
  });
}

export async function unfollowUser(
  deps: UsersDeps,
  followerId: string,
  targetId: string,
): Promise<void> {
  await store.unfollow(deps.db, followerId, targetId);
}

export async function blockUser(
  deps: UsersDeps,
  blockerId: string,
  targetId: string,
): Promise<void> {
  if (blockerId === targetId) throw cannotRelateToSelf();
  // Anyone existing may be blocked, whatever their profile shows.
  if (!(await store.relationTo(deps.db, blockerId, targetId))) throw userNotFound(targetId);
  await deps.withTransaction(t => store.block(deps.db, t, blockerId, targetId));
}

export async function unblockUser(
  deps: UsersDeps,
  blockerId: string,
  targetId: string,
): Promise<void> {
  await store.unblock(deps.db, blockerId, targetId);
}

export function relations(
  deps: UsersDeps,
  userId: string,
  list: store.RelationList,
): Promise<PublicProfile[]> {
  return store.relationList(deps.db, userId, list);
}
