import type Redis from "ioredis";
import type { ServiceBroker } from "moleculer";
import { ROLES, type Role } from "../../models/auth.model";
import { ACCESS_TOKEN_TTL_SECONDS, CLOCK_TOLERANCE_SECONDS } from "./token-claims";

/**
 * Revocation of access tokens before they expire (api.md "Revocation takes effect at once",
 * security.md 25). The users service records each revocation in a store (Redis when
 * REDIS_URL is set, else an in-process stand-in) and broadcasts it over the transporter;
 * every gateway keeps the live entries in memory (RevocationSet), so checking a token
 * costs two Map look-ups and never a round trip. A gateway loads the store when it starts
 * and re-reads its newest entries every second, which covers a broadcast it missed
 * (a transporter reconnect, or the moment between its start and the others learning of it).
 */

/** Every gateway learns a revocation from this broadcast. */
export const REVOCATION_EVENT = "auth.revoked";

/**
 * How long an entry is kept: by then every token it can refuse has expired on every node,
 * even one signed a moment after the revocation by a node whose clock is behind.
 */
export const REVOCATION_LIFETIME_MS =
  (ACCESS_TOKEN_TTL_SECONDS + 2 * CLOCK_TOLERANCE_SECONDS) * 1000;

/** Each entry says when it happened (`at`, ms since the epoch, the writer's clock). */
export type Revocation =
  /** The session (and every access token with its `sid`) has ended. */
  | { kind: "session"; sid: string; at: number }
  /** Tokens of the user issued before `before` (ms) are dead: password change, erasure. */
  | { kind: "user"; userId: string; at: number; before: number }
  /** The user holds exactly these roles now: a token keeps only those it claims of them. */
  | { kind: "roles"; userId: string; at: number; roles: Role[] };

export function sessionEnded(sid: string, at = Date.now()): Revocation {
  return { kind: "session", sid, at };
}

export function tokensIssuedBefore(userId: string, at = Date.now()): Revocation {
  return { kind: "user", userId, at, before: at };
}

/** The account is gone: no token of it may work again, whenever it was issued. */
export function userErased(userId: string, at = Date.now()): Revocation {
  return { kind: "user", userId, at, before: at + REVOCATION_LIFETIME_MS };
}

export function rolesChanged(userId: string, roles: Role[], at = Date.now()): Revocation {
  return { kind: "roles", userId, at, roles: [...roles] };
}

const isId = (value: unknown): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= 128;
const isTime = (value: unknown): value is number =>
  typeof value === "number" && Number.isFinite(value) && value > 0;

/** One entry from the wire or the store; anything malformed is dropped, never trusted. */
function parseRevocation(value: unknown): Revocation | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const entry = value as Record<string, unknown>;
  if (!isTime(entry.at)) return undefined;
  if (entry.kind === "session" && isId(entry.sid)) {
    return { kind: "session", sid: entry.sid, at: entry.at };
  }
  if (entry.kind === "user" && isId(entry.userId) && isTime(entry.before)) {
    return { kind: "user", userId: entry.userId, at: entry.at, before: entry.before };
  }
  if (entry.kind === "roles" && isId(entry.userId) && Array.isArray(entry.roles)) {
    const roles = (entry.roles as unknown[]).filter((role): role is Role =>
      (ROLES as readonly unknown[]).includes(role),
    );
    return { kind: "roles", userId: entry.userId, at: entry.at, roles };
  }
  return undefined;
}

/** The payload of REVOCATION_EVENT. */
export interface RevocationPayload {
  entries: Revocation[];
}

export function parseRevocations(payload: unknown): Revocation[] {
  const entries =
    payload !== null && typeof payload === "object"
      ? (payload as { entries?: unknown }).entries
      : undefined;
  if (!Array.isArray(entries)) return [];
  return entries.map(parseRevocation).filter((entry): entry is Revocation => entry !== undefined);
}

interface UserEntry {
  /** Tokens issued before this (ms) are dead while `beforeUntil` has not passed. */
  before: number;
  beforeUntil: number;
  roles?: Role[];
  rolesAt: number;
  rolesUntil: number;
}

/** What a token says about itself that revocation looks at. */
export interface TokenSubject {
  userId: string;
  sid?: string;
  /** `iat` in ms (the users service signs it to the millisecond). */
  issuedAtMs: number;
  roles: Role[];
}

/** The live revocations of one node: the check on every authenticated request. */
export class RevocationSet {
  /** Ended sessions → when their entry may go. */
  private readonly sessions = new Map<string, number>();
  private readonly users = new Map<string, UserEntry>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.sessions.size + this.users.size;
  }

  apply(entries: readonly Revocation[]): void {
    for (const entry of entries) {
      const until = entry.at + REVOCATION_LIFETIME_MS;
      if (entry.kind === "session") {
        this.sessions.set(entry.sid, Math.max(until, this.sessions.get(entry.sid) ?? 0));
        continue;
      }
      const known = this.users.get(entry.userId) ?? {
        before: 0,
        beforeUntil: 0,
        rolesAt: 0,
        rolesUntil: 0,
      };
      if (entry.kind === "user") {
        known.before = Math.max(known.before, entry.before);
        known.beforeUntil = Math.max(known.beforeUntil, until);
      } else if (entry.at >= known.rolesAt) {
        // Broadcasts from two users nodes may cross: the newest change wins, whatever arrives last.
        known.roles = entry.roles;
        known.rolesAt = entry.at;
        known.rolesUntil = until;
      }
      this.users.set(entry.userId, known);
    }
  }

  /**
   * The roles the token still holds, or null when it must be refused. Without an entry for
   * the token's session or user (nearly every request) this is two missed Map look-ups.
   */
  rolesOf(token: TokenSubject): Role[] | null {
    // The clock is read only when an entry is found: the usual request pays for no syscall.
    if (token.sid !== undefined) {
      const sessionUntil = this.sessions.get(token.sid);
      if (sessionUntil !== undefined && sessionUntil > this.now()) return null;
    }
    const user = this.users.get(token.userId);
    if (user === undefined) return token.roles;
    const now = this.now();
    if (user.beforeUntil > now && token.issuedAtMs < user.before) return null;
    const held = user.roles;
    if (held !== undefined && user.rolesUntil > now) {
      return token.roles.filter(role => held.includes(role));
    }
    return token.roles;
  }

  /** Drops entries that can no longer refuse any live token. */
  prune(): void {
    const now = this.now();
    for (const [sid, until] of this.sessions) if (until <= now) this.sessions.delete(sid);
    for (const [userId, entry] of this.users) {
      if (entry.beforeUntil <= now && entry.rolesUntil <= now) this.users.delete(userId);
    }
  }
}

/** Where revocations outlive a gateway's restart. */
export interface RevocationStore {
  add(entries: readonly Revocation[]): Promise<void>;
  /** The live entries that happened at or after `sinceMs`. */
  since(sinceMs: number): Promise<Revocation[]>;
}

/**
 * One sorted set per deployment, scored by `at`: an entry's age is its score, so dropping
 * the dead ones and reading the newest are one range command each.
 */
class RedisRevocationStore implements RevocationStore {
  private readonly key: string;

  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly now: () => number = Date.now,
  ) {
    this.key = `${prefix}auth:revocations`;
  }

  async add(entries: readonly Revocation[]): Promise<void> {
    if (entries.length === 0) return;
    const scored = entries.flatMap(entry => [entry.at, JSON.stringify(entry)]);
    await this.redis
      .multi()
      .zadd(this.key, ...scored)
      .zremrangebyscore(this.key, "-inf", this.now() - REVOCATION_LIFETIME_MS)
      .pexpire(this.key, REVOCATION_LIFETIME_MS)
      .exec();
  }

  async since(sinceMs: number): Promise<Revocation[]> {
    const from = Math.max(sinceMs, this.now() - REVOCATION_LIFETIME_MS);
    const members = await this.redis.zrangebyscore(this.key, from, "+inf");
    return members
      .map(member => {
        try {
          return parseRevocation(JSON.parse(member));
        } catch {
          return undefined;
        }
      })
      .filter((entry): entry is Revocation => entry !== undefined);
  }
}

/** Without Redis: the entries of this process (embedded mode runs users and gateway in one). */
export class MemoryRevocationStore implements RevocationStore {
  private entries: Revocation[] = [];

  constructor(private readonly now: () => number = Date.now) {}

  async add(entries: readonly Revocation[]): Promise<void> {
    const oldest = this.now() - REVOCATION_LIFETIME_MS;
    this.entries = [...this.entries.filter(entry => entry.at >= oldest), ...entries];
  }

  async since(sinceMs: number): Promise<Revocation[]> {
    const from = Math.max(sinceMs, this.now() - REVOCATION_LIFETIME_MS);
    return this.entries.filter(entry => entry.at >= from);
  }
}

const memoryStores = new WeakMap<ServiceBroker, MemoryRevocationStore>();

/** The store of a node: Redis when it has one, else the stand-in every service of the node shares. */
export function revocationStoreOf(
  broker: ServiceBroker,
  redis: Redis | undefined,
  prefix: string,
): RevocationStore {
  if (redis) return new RedisRevocationStore(redis, prefix);
  let store = memoryStores.get(broker);
  if (!store) {
    store = new MemoryRevocationStore();
    memoryStores.set(broker, store);
  }
  return store;
}

export interface RevocationFeedOptions {
  /** How often the store's newest entries are re-read. */
  pollMs?: number;
  /** How far back each re-read looks, for entries written late or by a node whose clock lags. */
  overlapMs?: number;
  onError?: (err: Error) => void;
  now?: () => number;
}

/** Keeps a gateway's RevocationSet current from the store: all of it at start, then the newest. */
export class RevocationFeed {
  private lastReadAt = 0;
  private reading?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private loadedOnce = false;
  /** A store that stays down is reported once, not on every poll. */
  private failing = false;
  private firstLoad?: Promise<void>;
  private readonly pollMs: number;
  private readonly overlapMs: number;
  private readonly now: () => number;
  /** True once the first load has ended, well or not: from then on no request waits for it. */
  settled = false;

  constructor(
    private readonly set: RevocationSet,
    private readonly store: RevocationStore,
    private readonly opts: RevocationFeedOptions = {},
  ) {
    this.pollMs = opts.pollMs ?? 1000;
    this.overlapMs = opts.overlapMs ?? 5000;
    this.now = opts.now ?? Date.now;
  }

  /** True once the whole store has been read: the gateway is ready only then. */
  get loaded(): boolean {
    return this.loadedOnce;
  }

  /** Reads the whole store once; settles whether that worked or not (the poll retries). */
  load(): Promise<void> {
    this.firstLoad ??= this.read()
      .catch((err: Error) => this.failed(err))
      .finally(() => {
        this.settled = true;
      });
    return this.firstLoad;
  }

  private async read(): Promise<void> {
    const startedAt = this.now();
    const entries = await this.store.since(this.loadedOnce ? this.lastReadAt - this.overlapMs : 0);
    this.set.apply(entries);
    this.lastReadAt = startedAt;
    this.loadedOnce = true;
    this.failing = false;
  }

  private failed(err: Error): void {
    if (!this.failing) this.opts.onError?.(err);
    this.failing = true;
  }

  private poll(): void {
    if (this.reading || !this.settled) return;
    this.set.prune();
    this.reading = this.read()
      .catch((err: Error) => this.failed(err))
      .finally(() => {
        this.reading = undefined;
      });
  }

  start(): void {
    this.timer ??= setInterval(() => this.poll(), this.pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
