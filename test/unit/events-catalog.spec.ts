import type { ServiceSchema } from "moleculer";
import { catalogGroups } from "../../lib/events/transport";
import {
  DOMAIN_EVENT_TYPES,
  EVENT_CONSUMERS,
  type ConsumingService,
} from "../../models/events.model";
import notify from "../../services/notify.service";
import progress from "../../services/progress.service";
import billing from "../../services/billing.service";
import users from "../../services/users.service";

/**
 * EVENT_CONSUMERS is the one definition of who consumes what: producers declare those
 * groups ahead of their consumers, so it must name exactly the events each real service handles.
 */

const RETRY = { maxAttempts: 6, baseDelayMs: 2000, maxDelayMs: 60_000 };

function handledBy(schema: ServiceSchema): string[] {
  const handlers = (schema as { durableEvents?: Record<string, unknown> }).durableEvents ?? {};
  return Object.keys(handlers).sort();
}

describe("the durable event catalog", () => {
  test.each<[ConsumingService, ServiceSchema]>([
    ["notify", notify as unknown as ServiceSchema],
    ["progress", progress as unknown as ServiceSchema],
    ["billing", billing as unknown as ServiceSchema],
    ["users", users as unknown as ServiceSchema],
  ])(
    "when %s's durable handlers are listed, then the consumer map names exactly those events",
    (name, schema) => {
      expect(schema.name).toBe(name);
      const mapped = DOMAIN_EVENT_TYPES.filter(type => EVENT_CONSUMERS[type].includes(name));
      expect([...mapped].sort()).toEqual(handledBy(schema));
    },
  );

  test("when producers ask for the catalog's groups, then each consuming service is one group bound to its events", () => {
    const groups = catalogGroups(RETRY);
    expect(groups.map(g => g.group).sort()).toEqual(["billing", "notify", "progress", "users"]);
    const progressGroup = groups.find(g => g.group === "progress");
    expect(progressGroup?.types.sort()).toEqual(
      [
        "billing.subscription.changed",
        "content.course.published",
        "content.lesson.deleted",
        "notify.email.outcome",
        "notify.inbox.changed",
        "progress.activity.recorded",
        "progress.attempt.graded",
        "progress.course.completed",
        "progress.course.enrolled",
        "progress.lesson.completed",
        "progress.xapi.recorded",
        "user.created",
        "user.deleted",
        "user.updated",
      ].sort(),
    );
    expect(groups.every(g => g.retry === RETRY)).toBe(true);
  });
});
