import { weekChartPng } from "../../services/notify/digest-chart";
import { isoWeekOf, shiftDate, wallClock } from "../../services/notify/local-time";

describe("digest parts: the learner's wall clock and the week chart", () => {
  it("reads the local date, hour and ISO weekday in the learner's zone (an unknown zone is UTC)", () => {
    const instant = new Date("2026-12-06T23:30:00Z"); // Sunday in UTC, Monday in Hanoi
    expect(wallClock(instant, "Asia/Ho_Chi_Minh")).toEqual({
      date: "2026-12-07",
      hour: 6,
      weekday: 1,
    });
    expect(wallClock(instant, "America/Los_Angeles")).toEqual({
      date: "2026-12-06",
      hour: 15,
      weekday: 7,
    });
    expect(wallClock(instant, "Not/AZone")).toEqual({ date: "2026-12-06", hour: 23, weekday: 7 });
  });

  it("counts calendar days and ISO weeks across month and year ends", () => {
    expect(shiftDate("2026-12-31", 1)).toBe("2027-01-01");
    expect(shiftDate("2026-03-01", -1)).toBe("2026-02-28");
    expect(isoWeekOf("2026-12-07")).toBe("2026-W50");
    expect(isoWeekOf("2027-01-01")).toBe("2026-W53");
    expect(isoWeekOf("2027-01-04")).toBe("2027-W01");
  });

  it("renders the week's XP as a PNG at twice the chart's CSS size, different data giving different pixels", () => {
    const days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const busy = weekChartPng(days.map((label, i) => ({ label, xp: i * 20 })));
    const idle = weekChartPng(days.map(label => ({ label, xp: 0 })));
    expect(busy.subarray(1, 4).toString("latin1")).toBe("PNG");
    expect(busy.readUInt32BE(16)).toBe(1040);
    expect(busy.readUInt32BE(20)).toBe(440);
    expect(busy.equals(idle)).toBe(false);
  });
});
