import { quietUntil } from "../../services/notify/quiet-hours";

/** Quiet hours in the learner's time zone (services/notify/quiet-hours.ts). */

describe("quiet hours", () => {
  const at = (iso: string) => new Date(iso);

  it("when now is outside the window, then nothing is held", () => {
    expect(
      quietUntil(at("2026-12-03T12:00:00Z"), "UTC", { start: "22:00", end: "07:00" }),
    ).toBeNull();
    expect(quietUntil(at("2026-12-03T12:00:00Z"), "UTC", null)).toBeNull();
  });

  it("when now is inside a same-day window, then it is held until the window's end", () => {
    expect(quietUntil(at("2026-12-03T13:20:30Z"), "UTC", { start: "13:00", end: "14:30" })).toEqual(
      at("2026-12-03T14:30:00Z"),
    );
  });

  it("when the window runs past midnight in the learner's zone, then the end is the next local morning", () => {
    // 23:30 in Tokyo (UTC+9) is 14:30 UTC; the window ends at 07:00 Tokyo, 22:00 UTC.
    expect(
      quietUntil(at("2026-12-03T14:30:00Z"), "Asia/Tokyo", { start: "22:00", end: "07:00" }),
    ).toEqual(at("2026-12-03T22:00:00Z"));
    // 06:59 Tokyo, still inside: one minute left.
    expect(
      quietUntil(at("2026-12-03T21:59:00Z"), "Asia/Tokyo", { start: "22:00", end: "07:00" }),
    ).toEqual(at("2026-12-03T22:00:00Z"));
    // In UTC that instant is 21:59, before the window; at 22:30 UTC it is held until 07:00 UTC.
    expect(
      quietUntil(at("2026-12-03T21:59:00Z"), "UTC", { start: "22:00", end: "07:00" }),
    ).toBeNull();
    expect(quietUntil(at("2026-12-03T22:30:00Z"), "UTC", { start: "22:00", end: "07:00" })).toEqual(
      at("2026-12-04T07:00:00Z"),
    );
  });

  it("when the window is malformed or empty, then nothing is held", () => {
    const now = at("2026-12-03T23:00:00Z");
    expect(quietUntil(now, "UTC", { start: "25:00", end: "07:00" })).toBeNull();
    expect(quietUntil(now, "UTC", { start: "22:00", end: "22:00" })).toBeNull();
  });
});
