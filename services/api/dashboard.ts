import type { Context } from "moleculer";
import type { PerUserReadCache } from "../../lib/per-user-read-cache";
import type { PublishedReadCache } from "../../lib/published-read-cache";
import type { AuthUser } from "../../models/auth.model";
import type { LearnerHome, LearnerHomeAnswer } from "../../models/progress.model";
import { actionFor } from "./all-routes";

/** How long one part of the dashboard may take before it is given up as degraded. */
const DASHBOARD_PART_DEADLINE_MS = 300;

/** The learner's home summary: every part but the profile, in one call (progress.home). */
const HOME_ACTION = "progress.home";

type HomePart = keyof LearnerHome;

/** The parts in the answer's order (and `degraded`'s). */
const HOME_PARTS: HomePart[] = [
  "progress",
  "courses",
  "dueReviews",
  "leaderboard",
  "notifications",
];

type DashboardPart = "user" | HomePart;

type DashboardParts = { user: unknown } & { [K in HomePart]: LearnerHome[K] | null };

export type Dashboard = DashboardParts & { degraded: DashboardPart[] };

type DashboardCtx = Context<unknown, { user?: AuthUser | null }>;

/**
 * A learner's home as this gateway holds it: progress.home's parts but the board (which moves
 * with everyone's scores and is read from the boards' read model instead), until `until` (ms)
 * — the answer's `freshUntil`, when time alone changes it.
 */
export type HeldHome = Pick<LearnerHome, "progress" | "courses" | "dueReviews"> & {
  notifications: NonNullable<LearnerHome["notifications"]>;
  until: number;
};

export interface DashboardDeps {
  /** Users' `GET /me` answers, per user (cleared on `cache.clean.users`). */
  profiles: PublishedReadCache;
  /** Learners' homes (cleared on progress's `cache.clean.learner` for them, `cache.clean.homes`). */
  homes: PerUserReadCache<HeldHome>;
  /** The dashboard's board from the read model in Redis; undefined: only progress can give it. */
  homeBoard(userId: string): Promise<LearnerHome["leaderboard"] | undefined>;
  /** This gateway's clock (ms), which `until` is compared with. */
  now(): number;
}

function deadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("deadline")), ms);
    promise.then(
      value => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** A part's answer, or why there is none. */
type Outcome<T> = { value: T } | { failure: string };

/**
 * An answer within the part's deadline. The deadline is this answer's, not a call timeout:
 * a part that is late under load is left out here, but must not count as the endpoint
 * failing — timeouts would open the circuit breaker and shut that service for every other
 * caller too.
 */
async function withinDeadline<T>(call: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { value: await deadline(call(), DASHBOARD_PART_DEADLINE_MS) };
  } catch (err) {
    return { failure: (err as Error).message };
  }
}

/**
 * The learner's profile (`GET /me`'s answer) from this gateway's copy: users broadcasts
 * `cache.clean.users` after every committed change of an account and the copy is cleared
 * on it (services/api.service.ts), so the copy saves the call without answering old data.
 */
async function profilePart(
  ctx: DashboardCtx,
  profiles: PublishedReadCache,
): Promise<Outcome<unknown>> {
  const user = ctx.meta.user;
  const action = actionFor("GET", "/me");
  if (!user || !action) return { failure: "no profile route" };
  const key = `me:${user.id}`;
  const held = profiles.get(key);
  if (held !== undefined) return { value: held };
  // Read before the call: a clean arriving while it is on its way keeps its answer out.
  const generation = profiles.generation;
  const answer = await withinDeadline(() => ctx.call(action, {}, { retries: 0 }));
  if ("value" in answer) profiles.set(key, answer.value, generation);
  return answer;
}

/**
 * Progress's parts from this gateway's copy of the learner's home and the board from the
 * read model, without the call; otherwise (none held, expired, cleared, or a board the read
 * model cannot give) from progress.home, whose complete answer is held for the next read —
 * unless the learner was cleared while it was on its way.
 */
async function homePart(
  ctx: DashboardCtx,
  deps: DashboardDeps,
  userId: string,
): Promise<Outcome<LearnerHome>> {
  const held = deps.homes.get(userId, HOME_KEY);
  if (held && held.until > deps.now()) {
    const board = await withinDeadline(() => deps.homeBoard(userId));
    if ("failure" in board) return { value: { ...held, leaderboard: null } };
    if (board.value !== undefined) return { value: { ...held, leaderboard: board.value } };
  }
  const stamp = deps.homes.stamp;
  const answer = await withinDeadline(() =>
    ctx.call<LearnerHomeAnswer, Record<string, never>>(HOME_ACTION, {}, { retries: 0 }),
  );
  if ("value" in answer) keep(deps, userId, answer.value, stamp);
  return answer;
}

/** One copy a learner: the home is one key of theirs. */
const HOME_KEY = "home";

/** Holds a complete answer (every part progress gives, the board aside) until its `freshUntil`. */
function keep(deps: DashboardDeps, userId: string, home: LearnerHomeAnswer, stamp: number): void {
  const { progress, courses, dueReviews, notifications } = home;
  const until = Date.parse(home.freshUntil);
  if (!progress || !courses || !dueReviews || !notifications || !(until > deps.now())) return;
  deps.homes.set(userId, HOME_KEY, { progress, courses, dueReviews, notifications, until }, stamp);
}

/**
 * The home screen in one answer: the learner's home (held here, or from progress in one
 * call) and the profile, at once, each given DASHBOARD_PART_DEADLINE_MS; a part that fails or
 * is late — or that progress could not answer now — is null and named in `degraded`, and
 * the answer is still complete in shape.
 */
export async function buildDashboard(ctx: DashboardCtx, deps: DashboardDeps): Promise<Dashboard> {
  const userId = ctx.meta.user?.id;
  const [user, home] = await Promise.all([
    profilePart(ctx, deps.profiles),
    userId ? homePart(ctx, deps, userId) : Promise.resolve({ failure: "no learner" }),
  ]);
  const answered = "value" in home ? home.value : undefined;
  const dashboard: Dashboard = {
    user: "value" in user ? user.value : null,
    progress: answered?.progress ?? null,
    courses: answered?.courses ?? null,
    dueReviews: answered?.dueReviews ?? null,
    leaderboard: answered?.leaderboard ?? null,
    notifications: answered?.notifications ?? null,
    degraded: [],
  };
  const failures: Array<[DashboardPart, string]> = [];
  if ("failure" in user) failures.push(["user", user.failure]);
  for (const part of HOME_PARTS)
    if (dashboard[part] === null)
      failures.push([part, "failure" in home ? home.failure : "not answered by progress"]);
  for (const [part, why] of failures)
    ctx.service?.logger.warn(`dashboard part "${part}" degraded: ${why}`);
  dashboard.degraded = failures.map(([part]) => part);
  return dashboard;
}
