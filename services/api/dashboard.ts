import type { Context } from "moleculer";
import { actionFor } from "./all-routes";
import type { RouteSpec } from "./route-table";

/** How long one part of the dashboard may take before it is given up as degraded. */
const DASHBOARD_PART_DEADLINE_MS = 300;

/** What each part of the dashboard holds when it answered. */
interface PartValues {
  user: unknown;
  progress: unknown;
  courses: unknown;
  dueReviews: unknown;
  leaderboard: { rank: number | null; top: unknown[] };
  notifications: { unread: number };
}

type DashboardPart = keyof PartValues;

interface Part<K extends DashboardPart> {
  name: K;
  /** The contract row whose action answers this part (the same action the route maps). */
  route: [RouteSpec["method"], string];
  /**
   * A cheaper (internal) action of the same service that answers everything this part shows;
   * the route's own action would build a whole page only for one number of it.
   */
  action?: string;
  params: Record<string, unknown>;
  shape: (answer: unknown) => PartValues[K];
}

type DashboardParts = { [K in DashboardPart]: PartValues[K] | null };

export type Dashboard = DashboardParts & { degraded: DashboardPart[] };

const asRecord = (value: unknown): Record<string, unknown> =>
  value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};

const PARTS: Array<{ [K in DashboardPart]: Part<K> }[DashboardPart]> = [
  { name: "user", route: ["GET", "/me"], params: {}, shape: answer => answer },
  { name: "progress", route: ["GET", "/me/progress"], params: {}, shape: answer => answer },
  { name: "courses", route: ["GET", "/me/courses"], params: {}, shape: answer => answer },
  { name: "dueReviews", route: ["GET", "/me/reviews/due"], params: {}, shape: answer => answer },
  {
    name: "leaderboard",
    route: ["GET", "/leaderboard"],
    params: { period: "weekly", limit: 10 },
    shape: answer => {
      const board = asRecord(answer);
      const me = asRecord(board.me);
      return {
        rank: typeof me.rank === "number" ? me.rank : null,
        top: Array.isArray(board.top) ? board.top : [],
      };
    },
  },
  {
    name: "notifications",
    route: ["GET", "/me/notifications"],
    action: "notify.unreadCount",
    params: {},
    shape: answer => {
      const unread = asRecord(answer).unread;
      if (typeof unread !== "number") throw new Error("no unread count");
      return { unread };
    },
  },
];

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

/**
 * The home screen in one answer: every part asked for at once, each given
 * DASHBOARD_PART_DEADLINE_MS; a part that fails or is late is null and named in `degraded`,
 * and the answer is still complete in shape.
 */
export async function buildDashboard(ctx: Context): Promise<Dashboard> {
  const dashboard: Dashboard = {
    user: null,
    progress: null,
    courses: null,
    dueReviews: null,
    leaderboard: null,
    notifications: null,
    degraded: [],
  };
  const answered = await Promise.all(PARTS.map(part => answerPart(ctx, part, dashboard)));
  // In the parts' own order, whichever answered first.
  dashboard.degraded = PARTS.filter((_part, i) => !answered[i]).map(part => part.name);
  return dashboard;
}

async function answerPart<K extends DashboardPart>(
  ctx: Context,
  part: Part<K>,
  parts: DashboardParts,
): Promise<boolean> {
  const action = part.action ?? actionFor(part.route[0], part.route[1]);
  if (!action) return false;
  try {
    // The deadline is this answer's, not a call timeout: a part that is late under load
    // is left out here, but must not count as the endpoint failing — timeouts would open
    // the circuit breaker and shut that service for every other caller too.
    const answer = await deadline(
      ctx.call(action, part.params, { retries: 0 }),
      DASHBOARD_PART_DEADLINE_MS,
    );
    parts[part.name] = part.shape(answer);
    return true;
  } catch (err) {
    ctx.service?.logger.warn(`dashboard part "${part.name}" degraded: ${(err as Error).message}`);
    return false;
  }
}
