import Validator from "fastest-validator";
import { RecentTops, TOP_MAX_AGE_MS } from "../../lib/leaderboard-read-model";
import { leaderboardParams } from "../../models/progress.model";
import { boardQuery } from "../../services/api/leaderboard-reads";

/**
 * Which `GET /leaderboard` queries the gateway answers from the read model: only those whose
 * meaning progress's own params give exactly; and the shared top's age and coalescing.
 */

describe("the gateway's leaderboard query", () => {
  const check = new Validator().compile({ ...leaderboardParams });

  /** What progress's params make of the query (fastest-validator fills defaults, converts). */
  function asProgressReads(query: Record<string, unknown>): unknown {
    const params = { ...query };
    return check(params) === true ? { period: params.period, limit: params.limit } : "refused";
  }

  it.each([
    [{}],
    [{ period: "weekly" }],
    [{ period: "all" }],
    [{ period: "all", limit: "1" }],
    [{ limit: "100" }],
    [{ limit: 100 }],
    [{ period: "all", limit: 7 }],
    [{ period: "weekly", limit: "25", scope: "everyone" }],
  ])("when the query is %j, then it reads as progress reads it", query => {
    expect(boardQuery(query)).toEqual(asProgressReads(query));
  });

  it.each([
    [{ scope: "following" }],
    [{ period: "yearly" }],
    [{ limit: "0" }],
    [{ limit: "101" }],
    [{ limit: "02" }],
    [{ limit: "1e1" }],
    [{ limit: " 5" }],
    [{ limit: 5.5 }],
    [{ limit: 0 }],
    [{ limit: true }],
    [{ period: ["weekly", "all"] }],
    [{ page: "2" }],
  ])("when the query is %j, then progress answers it", query => {
    expect(boardQuery(query)).toBeUndefined();
  });
});

describe("RecentTops", () => {
  it("when many ask within the interval, then one read serves them; after it, one more read", async () => {
    let now = 1_000_000;
    let reads = 0;
    let release: (value: string) => void = () => undefined;
    const tops = new RecentTops(
      (period, week, limit) => {
        reads += 1;
        return new Promise<string>(resolve => {
          release = resolve;
        }).then(v => `${v}:${period}:${week}:${limit}`);
      },
      () => now,
    );
    const waiting = [1, 2, 3].map(() => tops.get("weekly", "2026-W49", 10));
    expect(reads).toBe(1);
    release("a");
    await expect(Promise.all(waiting)).resolves.toEqual(Array(3).fill("a:weekly:2026-W49:10"));
    now += TOP_MAX_AGE_MS - 1;
    await expect(tops.get("weekly", "2026-W49", 10)).resolves.toBe("a:weekly:2026-W49:10");
    expect(reads).toBe(1);
    void tops.get("all", "2026-W49", 10);
    expect(reads).toBe(2);
    now += 1;
    const later = tops.get("weekly", "2026-W49", 10);
    expect(reads).toBe(3);
    release("b");
    await expect(later).resolves.toBe("b:weekly:2026-W49:10");
  });

  it("when a read fails or finds nothing to answer with, then it is not kept", async () => {
    let reads = 0;
    const tops = new RecentTops(() => {
      reads += 1;
      if (reads === 1) return Promise.reject(new Error("redis down"));
      return Promise.resolve(reads === 2 ? null : "ok");
    });
    await expect(tops.get("weekly", "w", 10)).rejects.toThrow("redis down");
    await expect(tops.get("weekly", "w", 10)).resolves.toBeNull();
    await expect(tops.get("weekly", "w", 10)).resolves.toBe("ok");
    await expect(tops.get("weekly", "w", 10)).resolves.toBe("ok");
    expect(reads).toBe(3);
  });
});
