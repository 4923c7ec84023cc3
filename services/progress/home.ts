import type { Transaction } from "sequelize";
import type { AuthUser } from "../../models/auth.model";
import { HOME_BOARD, type LearnerHome, type LearnerHomeAnswer } from "../../models/progress.model";
import { leaderboardView } from "./boards";
import { nextLocalDay, safeTimeZone } from "./clock";
import type { ProgressDeps, RequestCtx } from "./deps";
import { enrolledCourseOf, myCourses } from "./enrollments";
import { learnerState, progressSnapshotOf, progressViewOf, recentXpSince } from "./learners";
import { DEFAULT_NEW_CARDS_PER_DAY, dueCardOf, dueReviews } from "./reviews";
import * as store from "./store";

/**
 * The learner's home summary (GET /me/dashboard's progress parts), a read model of one row a
 * learner (docs/learning-rules.md, "The home summary"). The consumer keeps it current with
 * the learner's own events; a read finds it in one statement with the learner's current
 * event sequence, and when the summary is behind (its event not consumed yet, or marked for
 * a rebuild) builds it from the sources as the separate routes do, and stores it.
 */

/** The dashboard's due list: GET /me/reviews/due's default length. */
const HOME_DUE_LIMIT = 100;

type Built = Pick<LearnerHome, "progress" | "courses" | "dueReviews"> & {
  /** The zone the progress view's local day was read in. */
  timezone: string;
};

/** A summary that reflects every event of the learner. */
type CurrentRow = store.HomeRow & {
  progress: store.ProgressSnapshot;
  courses: LearnerHome["courses"];
};

export async function learnerHome(
  deps: ProgressDeps,
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<LearnerHomeAnswer> {
  const now = deps.now();
  const [row, leaderboard] = await Promise.all([
    store.homeOf(deps.db, actor.id, now, HOME_DUE_LIMIT),
    boardPart(deps, actor, ctx),
  ]);
  const [built, unread] = await Promise.all([
    isCurrent(row) ? fromSummary(row, now) : rebuild(deps, actor, row, ctx),
    row.unread ?? seedUnread(deps, actor.id, ctx),
  ]);
  return {
    progress: built.progress,
    courses: built.courses,
    dueReviews: built.dueReviews,
    leaderboard,
    notifications: unread === null ? null : { unread },
    freshUntil: freshUntil(row, built.timezone, now).toISOString(),
  };
}

/** The next change by time alone: a card falling due, or the learner's local day ending. */
function freshUntil(row: store.HomeRow, timezone: string, now: Date): Date {
  const dayEnds = nextLocalDay(now, timezone);
  const due = row.next_due === null ? undefined : new Date(row.next_due);
  return due && due < dayEnds ? due : dayEnds;
}

function isCurrent(row: store.HomeRow): row is CurrentRow {
  return (
    row.sequence !== null &&
    row.event_sequence !== null &&
    Number(row.sequence) >= Number(row.event_sequence) &&
    row.progress !== null &&
    row.courses !== null
  );
}

function fromSummary(row: CurrentRow, now: Date): Built {
  return {
    progress: progressViewOf(
      row.progress,
      { timezone: row.timezone ?? "UTC", dailyGoalXp: row.daily_goal_xp ?? 0 },
      now,
    ),
    courses: row.courses,
    dueReviews: row.due_cards.map(dueCardOf),
    timezone: safeTimeZone(row.timezone),
  };
}

/**
 * Today's path (the learner's progress, course list and due list, content and users asked
 * as those routes ask them), stored as the learner's summary. The sequence stored is the one
 * the home statement saw, read before these sources: an event committed meanwhile leaves the
 * summary behind, and the next read builds it again.
 */
async function rebuild(
  deps: ProgressDeps,
  actor: Pick<AuthUser, "id">,
  seen: store.HomeRow,
  ctx: RequestCtx,
): Promise<Built> {
  const [state, courses, due] = await Promise.all([
    learnerState(deps, actor.id, ctx),
    myCourses(deps, actor, ctx),
    dueReviews(deps, { limit: HOME_DUE_LIMIT }, actor, ctx),
  ]);
  const timezone = safeTimeZone(state.timezone);
  // Stored after the answer, not before it: the answer is the sources' either way, and a
  // summary not stored (a failure, a consumer holding the row) is built again on the next read.
  remember(
    deps,
    actor.id,
    "summary",
    store.saveHomeSummary(deps.db, actor.id, {
      sequence: Number(seen.event_sequence ?? 0),
      generation: Number(seen.generation ?? 0),
      progress: state.snapshot,
      courses,
      timezone,
      dailyGoalXp: state.dailyGoalXp,
      newCardsPerDay: state.profile?.newCardsPerDay ?? DEFAULT_NEW_CARDS_PER_DAY,
    }),
  );
  return {
    progress: progressViewOf(state.snapshot, { ...state, timezone }, deps.now()),
    courses,
    dueReviews: due,
    timezone,
  };
}

/**
 * A learner whose inbox has not changed since the summaries exist has no count here yet:
 * notify's answer is stored once (an inbox change later overrides it by its version).
 */
async function seedUnread(
  deps: ProgressDeps,
  userId: string,
  ctx: RequestCtx,
): Promise<number | null> {
  try {
    const unread = await deps.notify.unreadCount(ctx);
    remember(deps, userId, "unread count", store.seedUnreadCount(deps.db, userId, unread));
    return unread;
  } catch (err) {
    deps.logger.warn(`unread count of ${userId} not known: ${(err as Error).message}`);
    return null;
  }
}

/** A write of the summary the answer does not wait for (logged when it fails). */
function remember(deps: ProgressDeps, userId: string, what: string, write: Promise<void>): void {
  write.catch((err: Error) =>
    deps.logger.warn(`home ${what} of ${userId} not stored: ${err.message}`),
  );
}

/** The learner's rank read live (it moves with everyone's scores), the top from the node's copy. */
async function boardPart(
  deps: ProgressDeps,
  actor: Pick<AuthUser, "id">,
  ctx: RequestCtx,
): Promise<LearnerHome["leaderboard"]> {
  try {
    const board = await leaderboardView(deps, HOME_BOARD, actor, ctx);
    return { rank: board.me.rank, top: board.top };
  } catch (err) {
    deps.logger.warn(`leaderboard of the home summary failed: ${(err as Error).message}`);
    return null;
  }
}

/**
 * The consumer's update after one of the learner's events, in its transaction: the progress
 * and the course counts from progress's own tables, the courses' briefs kept from the
 * summary. Nothing is built here (no call in a transaction): a learner without a built
 * summary, or enrolled in a course the summary has no brief of yet, is left behind for the
 * next read to build from content's answer.
 */
export async function refreshHome(
  deps: ProgressDeps,
  userId: string,
  t: Transaction,
): Promise<void> {
  const held = await store.lockHomeSummary(deps.db, userId, t);
  if (!held) return;
  // Read with the lock, before the sources: the summary reflects at least this sequence.
  const sequence = Number(held.event_sequence);
  const summary = await store.learnerSummary(deps.db, userId, recentXpSince(deps.now()), t);
  if (!summary) return;
  const enrolled = await store.enrolledCoursesOf(deps.db, userId, t);
  const briefs = new Map(held.courses.map(c => [c.course.id, c.course]));
  if (enrolled.some(e => !briefs.has(e.enrollment.course_id))) return;
  await store.updateHomeSummary(
    deps.db,
    userId,
    {
      sequence,
      progress: progressSnapshotOf(summary),
      courses: enrolled.map(e => enrolledCourseOf(e, briefs.get(e.enrollment.course_id))),
    },
    t,
  );
  deps.learnersChanged(t, [userId]);
}
