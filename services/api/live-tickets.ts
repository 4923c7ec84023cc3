import crypto from "node:crypto";
import type Redis from "ioredis";
import { ROLES, type Role } from "../../models/auth.model";

/**
 * Tickets of `POST /live/ticket` (security.md 28: never a token in the URL): 256 random bits,
 * good for one WebSocket upgrade within 30 s, on any gateway node. Only the ticket's SHA-256
 * is stored, so a store dump opens no socket.
 */

/** Who a ticket lets in: what revocation checks (lib/auth/revocations.ts) for the socket's life. */
export interface LiveSubject {
  userId: string;
  sid?: string;
  roles: Role[];
  /** When the ticket was issued (ms): the access token it was issued for is no younger. */
  issuedAtMs: number;
}

const TICKET_TTL_MS = 30_000;

export interface TicketStore {
  issue(subject: LiveSubject): Promise<string>;
  /** The ticket's subject once; null for an unknown, used or expired ticket. */
  redeem(ticket: string): Promise<LiveSubject | null>;
}

const hashOf = (ticket: string): string =>
  crypto.createHash("sha256").update(ticket).digest("base64url");
const newTicket = (): string => crypto.randomBytes(32).toString("base64url");
const TICKET_SHAPE = /^[A-Za-z0-9_-]{43}$/;

function parseSubject(raw: string | null): LiveSubject | null {
  if (raw === null) return null;
  const value = JSON.parse(raw) as Partial<LiveSubject>;
  if (typeof value.userId !== "string" || typeof value.issuedAtMs !== "number") return null;
  const roles = (Array.isArray(value.roles) ? value.roles : []).filter((role): role is Role =>
    (ROLES as readonly unknown[]).includes(role),
  );
  return {
    userId: value.userId,
    roles,
    issuedAtMs: value.issuedAtMs,
    ...(typeof value.sid === "string" ? { sid: value.sid } : {}),
  };
}

/** Shared by every gateway: a ticket issued by one node opens a socket on another. */
class RedisTicketStore implements TicketStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async issue(subject: LiveSubject): Promise<string> {
    const ticket = newTicket();
    await this.redis.set(this.key(ticket), JSON.stringify(subject), "PX", TICKET_TTL_MS);
    return ticket;
  }

  async redeem(ticket: string): Promise<LiveSubject | null> {
    if (!TICKET_SHAPE.test(ticket)) return null;
    // GETDEL: of two upgrades racing with one ticket, exactly one reads it.
    return parseSubject(await this.redis.getdel(this.key(ticket)));
  }

  private key(ticket: string): string {
    return `${this.prefix}live:ticket:${hashOf(ticket)}`;
  }
}

/** Without Redis (embedded mode): the tickets of this gateway. */
class MemoryTicketStore implements TicketStore {
  private readonly tickets = new Map<string, { subject: LiveSubject; until: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  async issue(subject: LiveSubject): Promise<string> {
    const now = this.now();
    for (const [key, entry] of this.tickets) if (entry.until <= now) this.tickets.delete(key);
    const ticket = newTicket();
    this.tickets.set(hashOf(ticket), { subject, until: now + TICKET_TTL_MS });
    return ticket;
  }

  async redeem(ticket: string): Promise<LiveSubject | null> {
    const key = hashOf(ticket);
    const entry = this.tickets.get(key);
    this.tickets.delete(key);
    return entry && entry.until > this.now() ? entry.subject : null;
  }
}

export function ticketStoreOf(redis: Redis | undefined, prefix: string): TicketStore {
  return redis ? new RedisTicketStore(redis, prefix) : new MemoryTicketStore();
}
