import { isPremium, statusOf } from "../../services/billing/subscriptions";
import type { SubscriptionRow } from "../../services/billing/store/subscriptions";

/** The entitlement rule of the billing service: premium while trialing or active, then a grace period. */

const DAY = 86_400_000;
const now = new Date("2026-12-01T12:00:00Z");

function row(status: SubscriptionRow["status"], pastDueSince: Date | null = null): SubscriptionRow {
  return {
    id: "sub_1",
    user_id: "u1",
    plan_id: "premium-monthly",
    status,
    current_period_end: new Date(now.getTime() + 20 * DAY),
    cancel_at_period_end: false,
    past_due_since: pastDueSince,
  };
}

describe("the premium entitlement", () => {
  it("when a subscription is trialing or active, then it grants premium; canceled or none, then not", () => {
    expect(isPremium(row("trialing"), now, 7 * DAY)).toBe(true);
    expect(isPremium(row("active"), now, 7 * DAY)).toBe(true);
    expect(isPremium(row("canceled"), now, 7 * DAY)).toBe(false);
    expect(isPremium(row("none"), now, 7 * DAY)).toBe(false);
    expect(isPremium(undefined, now, 7 * DAY)).toBe(false);
  });

  it("when a payment is overdue, then premium lasts the grace period from when it became overdue", () => {
    expect(isPremium(row("past_due", new Date(now.getTime() - 6 * DAY)), now, 7 * DAY)).toBe(true);
    expect(isPremium(row("past_due", new Date(now.getTime() - 8 * DAY)), now, 7 * DAY)).toBe(false);
  });

  it("when Stripe reports its statuses, then they read in the contract's words", () => {
    expect(["trialing", "active", "past_due", "canceled"].map(statusOf)).toEqual([
      "trialing",
      "active",
      "past_due",
      "canceled",
    ]);
    expect(statusOf("unpaid")).toBe("past_due");
    expect(statusOf("incomplete_expired")).toBe("canceled");
    expect(statusOf("incomplete")).toBe("none");
    expect(statusOf("paused")).toBe("none");
  });
});
