import {
  MemoryRevocationStore,
  parseRevocations,
  REVOCATION_LIFETIME_MS,
  RevocationFeed,
  RevocationSet,
  rolesChanged,
  sessionEnded,
  tokensIssuedBefore,
  userErased,
  type TokenSubject,
} from "../../lib/auth/revocations";
import { AccessTokenVerifier, InvalidTokenError } from "../../lib/auth/verify-access-token";
import { newSigningKey, signAccessToken, TEST_PUBLIC_URL } from "../integration/api-kit";

describe("RevocationSet (api.md: revocation takes effect at once)", () => {
  let clock: number;
  let set: RevocationSet;
  const token = (overrides: Partial<TokenSubject> = {}): TokenSubject => ({
    userId: "u1",
    sid: "s1",
    issuedAtMs: clock - 60_000,
    roles: ["learner", "author"],
    ...overrides,
  });

  beforeEach(() => {
    clock = 1_800_000_000_000;
    set = new RevocationSet(() => clock);
  });

  it("when nothing is revoked, then a token keeps the roles it claims", () => {
    expect(set.rolesOf(token())).toEqual(["learner", "author"]);
  });

  it("when a session ended, then its tokens are refused until no token of it can be alive, and others are not", () => {
    set.apply([sessionEnded("s1", clock)]);
    expect(set.rolesOf(token())).toBeNull();
    expect(set.rolesOf(token({ sid: "s2" }))).toEqual(["learner", "author"]);
    clock += REVOCATION_LIFETIME_MS - 1;
    expect(set.rolesOf(token())).toBeNull();
    clock += 1;
    set.prune();
    expect(set.size).toBe(0);
  });

  it("when a password changed, then the user's tokens issued before are refused and one issued a millisecond after is not", () => {
    const changedAt = clock;
    set.apply([tokensIssuedBefore("u1", changedAt)]);
    expect(set.rolesOf(token({ issuedAtMs: changedAt - 1 }))).toBeNull();
    expect(set.rolesOf(token({ issuedAtMs: changedAt + 1 }))).toEqual(["learner", "author"]);
    expect(set.rolesOf(token({ userId: "u2", issuedAtMs: changedAt - 1 }))).not.toBeNull();
  });

  it("when an account is erased, then its tokens are refused whenever they were issued", () => {
    set.apply([userErased("u1", clock)]);
    expect(set.rolesOf(token({ issuedAtMs: clock + 5_000 }))).toBeNull();
  });

  it("when roles change, then a token keeps only the roles still held, and the newest change wins whatever the order of arrival", () => {
    set.apply([rolesChanged("u1", ["learner"], clock)]);
    expect(set.rolesOf(token())).toEqual(["learner"]);
    set.apply([rolesChanged("u1", ["learner", "author"], clock + 10)]);
    set.apply([rolesChanged("u1", [], clock + 5)]);
    expect(set.rolesOf(token())).toEqual(["learner", "author"]);
    // A promotion gives an older token nothing it did not claim.
    set.apply([rolesChanged("u1", ["learner", "author", "admin"], clock + 20)]);
    expect(set.rolesOf(token({ roles: ["learner"] }))).toEqual(["learner"]);
  });

  it("when a broadcast carries malformed entries, then they are dropped and the good ones kept", () => {
    const entries = parseRevocations({
      entries: [
        sessionEnded("s1", clock),
        { kind: "session", sid: "", at: clock },
        { kind: "user", userId: "u1", at: "yesterday", before: clock },
        { kind: "roles", userId: "u1", at: clock, roles: ["root", "learner"] },
        { kind: "everyone", at: clock },
        null,
      ],
    });
    expect(entries).toEqual([
      sessionEnded("s1", clock),
      { kind: "roles", userId: "u1", at: clock, roles: ["learner"] },
    ]);
    expect(parseRevocations("nonsense")).toEqual([]);
  });
});

describe("RevocationFeed", () => {
  it("when the store holds entries at start, then the first load applies them; later entries arrive with the poll, even one written late", async () => {
    const store = new MemoryRevocationStore();
    const set = new RevocationSet();
    const probe = (sid: string): TokenSubject => ({
      userId: "u",
      sid,
      issuedAtMs: Date.now() - 1000,
      roles: ["learner"],
    });
    await store.add([sessionEnded("before-start")]);
    const feed = new RevocationFeed(set, store, { pollMs: 20, overlapMs: 5000 });
    expect(feed.loaded).toBe(false);
    await feed.load();
    expect(feed.loaded).toBe(true);
    expect(set.rolesOf(probe("before-start"))).toBeNull();
    feed.start();
    try {
      // Stamped two seconds ago but stored only now: within the overlap, still read.
      await store.add([sessionEnded("late", Date.now() - 2000), sessionEnded("new")]);
      const deadline = Date.now() + 2000;
      while (set.rolesOf(probe("new")) !== null && Date.now() < deadline) {
        await new Promise(resolve => setTimeout(resolve, 10));
      }
      expect(set.rolesOf(probe("new"))).toBeNull();
      expect(set.rolesOf(probe("late"))).toBeNull();
    } finally {
      feed.stop();
    }
  });

  it("when the store is down at start, then the load settles without throwing, reports once, and the feed is not loaded", async () => {
    const errors: string[] = [];
    const feed = new RevocationFeed(
      new RevocationSet(),
      {
        add: async () => undefined,
        since: async () => {
          throw new Error("connection refused");
        },
      },
      { onError: err => errors.push(err.message) },
    );
    await expect(feed.load()).resolves.toBeUndefined();
    expect(feed.settled).toBe(true);
    expect(feed.loaded).toBe(false);
    expect(errors).toEqual(["connection refused"]);
  });
});

describe("AccessTokenVerifier with revocations", () => {
  it("when a token already verified (and remembered) is revoked, then the next verify refuses it", async () => {
    const key = await newSigningKey();
    const set = new RevocationSet();
    const verifier = new AccessTokenVerifier({
      publicUrl: TEST_PUBLIC_URL,
      fetchJwks: async () => ({ keys: [key.jwk] }),
      revocations: set,
    });
    const token = await signAccessToken(key, { sub: "u1", roles: ["author"] });
    expect(await verifier.verify(token)).toMatchObject({ id: "u1", sid: "s1", roles: ["author"] });
    set.apply([rolesChanged("u1", ["learner"])]);
    expect((await verifier.verify(token)).roles).toEqual([]);
    set.apply([sessionEnded("s1")]);
    await expect(verifier.verify(token)).rejects.toEqual(new InvalidTokenError("revoked"));
  });
});
