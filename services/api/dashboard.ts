import type { Context } from "moleculer";
import type { PublishedReadCache } from "../../lib/published-read-cache";
import type { AuthUser } from "../../models/auth.model";
import type { LearnerHome } from "../../models/progress.model";
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
 * The home screen in one answer: the learner's home summary from progress (one call) and
 * the profile, at once, each given DASHBOARD_PART_DEADLINE_MS; a part that fails or is late
 * — or that progress could not answer now — is null and named in `degraded`, and the answer
 * is still complete in shape.
 */
export async function buildDashboard(
  ctx: DashboardCtx,
  profiles: PublishedReadCache,
): Promise<Dashboard> {
  const [user, home] = await Promise.all([
    profilePart(ctx, profiles),
    withinDeadline(() =>
      ctx.call<LearnerHome, Record<string, never>>(HOME_ACTION, {}, { retries: 0 }),
    ),
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
