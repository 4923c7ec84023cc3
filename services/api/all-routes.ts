import type { RouteSpec } from "./route-table";
import { billingRoutes } from "./routes/billing.routes";
import { accountRoutes } from "./routes/accounts.routes";
import { socialRoutes } from "./routes/social.routes";
import { analyticsRoutes } from "./routes/analytics.routes";
import { xapiRoutes } from "./routes/xapi.routes";
import { certificatesRoutes } from "./routes/certificates.routes";
import { contentRoutes } from "./routes/content.routes";
import { unitsRoutes } from "./routes/units.routes";
import { identityRoutes } from "./routes/identity.routes";
import { learningRoutes } from "./routes/learning.routes";
import { skillsRoutes } from "./routes/skills.routes";
import { placementRoutes } from "./routes/placement.routes";
import { inboxRoutes } from "./routes/inbox.routes";
import { liveRoutes } from "./routes/live.routes";
import { phoneRoutes } from "./routes/phone.routes";
import { pushRoutes } from "./routes/push.routes";
import { notificationsRoutes } from "./routes/notifications.routes";

/** The gateway's own row of the contract (Aggregation). */
const aggregationRoutes: RouteSpec[] = [
  {
    method: "GET",
    path: "/me/dashboard",
    action: "api.dashboard",
    summary:
      "Everything the home screen shows, in one call; slow or missing parts are null and named in `degraded`",
    tag: "Aggregation",
  },
];

/** Every public route under /api/v1: the services' contract tables plus the aggregate. */
export function publicRoutes(): RouteSpec[] {
  return [
    ...identityRoutes,
    ...accountRoutes,
    ...socialRoutes,
    ...contentRoutes,
    ...unitsRoutes,
    ...learningRoutes,
    ...skillsRoutes,
    ...placementRoutes,
    ...certificatesRoutes,
    ...analyticsRoutes,
    ...xapiRoutes,
    ...notificationsRoutes,
    ...billingRoutes,
    ...inboxRoutes,
    ...liveRoutes,
    ...pushRoutes,
    ...phoneRoutes,
    ...aggregationRoutes,
  ];
}

export function routeKey(route: Pick<RouteSpec, "method" | "path">): string {
  return `${route.method} ${route.path}`;
}

/** The action a contract row maps, or undefined when its owner has not published the row yet. */
export function actionFor(method: RouteSpec["method"], path: string): string | undefined {
  return publicRoutes().find(route => route.method === method && route.path === path)?.action;
}
