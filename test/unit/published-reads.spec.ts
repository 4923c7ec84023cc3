import { PublishedReadCache } from "../../lib/published-read-cache";
import { publishedReadKey } from "../../services/api/published-reads";

describe("gateway copy of published reads", () => {
  it("when an anonymous course read is asked for, then it has a key; signed-in, drafts or odd params have none", () => {
    expect(publishedReadKey("content.getCourse", "GET", true, { id: "c1" })).toBeDefined();
    expect(
      publishedReadKey("content.getCourse", "GET", true, { id: "c1", view: "published" }),
    ).toBeDefined();
    expect(publishedReadKey("content.getCourse", "GET", false, { id: "c1" })).toBeUndefined();
    expect(
      publishedReadKey("content.getCourse", "GET", true, { id: "c1", view: "draft" }),
    ).toBeUndefined();
    expect(
      publishedReadKey("content.getCourse", "GET", true, { id: "c1", extra: "1" }),
    ).toBeUndefined();
    expect(publishedReadKey("content.getCourse", "POST", true, { id: "c1" })).toBeUndefined();
    expect(publishedReadKey("content.listCourses", "GET", true, {})).toBeUndefined();
    expect(publishedReadKey("content.getCourse", "GET", true, { id: "c1" })).not.toEqual(
      publishedReadKey("content.getCourse", "GET", true, { id: "c2" }),
    );
  });

  it("when the cache is cleared, then entries are gone and a read started before the clear is not stored", () => {
    const cache = new PublishedReadCache({ ttlMs: 1000, maxEntries: 10 });
    const before = cache.generation;
    cache.set("a", { v: 1 }, before);
    expect(cache.get("a")).toEqual({ v: 1 });
    cache.clear();
    expect(cache.get("a")).toBeUndefined();
    cache.set("a", { v: 1 }, before);
    expect(cache.get("a")).toBeUndefined();
    cache.set("a", { v: 2 }, cache.generation);
    expect(cache.get("a")).toEqual({ v: 2 });
  });

  it("when an entry is older than its time to live, then it is no longer served", () => {
    let now = 0;
    const cache = new PublishedReadCache({ ttlMs: 1000, maxEntries: 10, now: () => now });
    cache.set("a", 1, cache.generation);
    now = 999;
    expect(cache.get("a")).toBe(1);
    now = 1000;
    expect(cache.get("a")).toBeUndefined();
  });

  it("when the cache is full, then the oldest entry makes room", () => {
    const cache = new PublishedReadCache({ ttlMs: 1000, maxEntries: 2 });
    cache.set("a", 1, cache.generation);
    cache.set("b", 2, cache.generation);
    cache.set("c", 3, cache.generation);
    expect(cache.size).toBe(2);
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("c")).toBe(3);
  });
});
