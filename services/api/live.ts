import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { Logger } from "moleculer";
import { WebSocket, WebSocketServer } from "ws";
import type { LiveDelivery, LiveMessage } from "../../models/live.model";
import type { LiveSubject } from "./live-tickets";

/**
 * `GET /api/v1/live?ticket=…[&since=<id>]` (api.md): the learner's live messages over a
 * WebSocket (RFC 6455, the `ws` library) on the gateway's own HTTP server. Notify broadcasts
 * each committed message to every gateway (LIVE_DELIVERY_EVENT); this node writes it to the
 * sockets it holds for that user. Sockets only listen: the server sends, clients send nothing
 * but pongs (and a message of more than MAX_CLIENT_MESSAGE bytes closes the socket).
 */

const LIVE_PATH = "/api/v1/live";

interface LiveLimits {
  /** Open sockets of one user on this node; one more is answered 429. */
  perUser: number;
  /** Open sockets on this node; one more is answered 503. */
  perNode: number;
  /** A ping every interval; a socket that did not answer the previous one is closed. */
  heartbeatMs: number;
  /** Bytes waiting to be written to one socket beyond which its client is too slow: dropped. */
  maxBufferedBytes: number;
}

export interface LiveHubDeps {
  limits: LiveLimits;
  redeem(ticket: string): Promise<LiveSubject | null>;
  /** The user's messages after `since` (the last 24 h), oldest first. */
  replay(userId: string, since: string): Promise<LiveMessage[]>;
  /** True when the socket's session or user was revoked since its ticket. */
  revoked(subject: LiveSubject): boolean;
  /** A browser's Origin must be one of the app's; clients without one (apps, servers) pass. */
  originAllowed(origin: string): boolean;
  logger: Logger;
}

/** Close code (private range, RFC 6455 §7.4.2) of a socket whose session was revoked. */
const CLOSE_REVOKED = 4001;
/** How often the sockets' sessions are checked against the revocations this node knows. */
const REVOCATION_SWEEP_MS = 250;

const MAX_CLIENT_MESSAGE = 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Held {
  ws: WebSocket;
  subject: LiveSubject;
  alive: boolean;
  /** Messages that arrived while the replay was being read; sent after it, unless it had them. */
  pending?: LiveMessage[];
}

/** What a refused upgrade answers: the contract's error shape over plain HTTP/1.1. */
function refuse(socket: Duplex, code: number, type: string, message: string): void {
  const body = JSON.stringify({ name: "LiveRefused", message, code, type });
  const reason = { 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found" };
  const status =
    reason[code as keyof typeof reason] ??
    (code === 429 ? "Too Many Requests" : "Service Unavailable");
  socket.end(
    `HTTP/1.1 ${code} ${status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nX-Content-Type-Options: nosniff\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
}

/**
 * Writes one message unless the client is not reading: what waits for it is bounded by
 * `maxBufferedBytes`, past which the socket is dropped (it reconnects with `since`).
 */
function sendOrDrop(
  ws: Pick<WebSocket, "bufferedAmount" | "send" | "terminate" | "readyState">,
  message: LiveMessage,
  maxBufferedBytes: number,
): "sent" | "dropped" | "closed" {
  if (ws.readyState !== WebSocket.OPEN) return "closed";
  if (ws.bufferedAmount > maxBufferedBytes) {
    ws.terminate();
    return "dropped";
  }
  ws.send(JSON.stringify(message));
  return "sent";
}

export class LiveHub {
  private readonly wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_CLIENT_MESSAGE,
    perMessageDeflate: false,
  });
  private readonly byUser = new Map<string, Set<Held>>();
  private open = 0;
  /** Upgrades between their checks and their registration, counted against the limits. */
  private opening = 0;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly sweep: NodeJS.Timeout;
  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    void this.upgrade(req, socket, head).catch((err: Error) => {
      this.deps.logger.warn(`live: upgrade failed: ${err.message}`);
      if (!socket.destroyed) refuse(socket, 503, "SERVICE_UNAVAILABLE", "Try again later");
    });
  };

  constructor(
    private readonly server: Server,
    private readonly deps: LiveHubDeps,
  ) {
    server.on("upgrade", this.onUpgrade);
    this.heartbeat = setInterval(() => this.beat(), deps.limits.heartbeatMs);
    this.heartbeat.unref();
    // Revocations reach this node by broadcast and by the feed's poll (lib/auth/revocations.ts).
    this.sweep = setInterval(() => this.closeRevoked(), REVOCATION_SWEEP_MS);
    this.sweep.unref();
  }

  /** Open sockets on this node. */
  get size(): number {
    return this.open;
  }

  deliver({ userId, message }: LiveDelivery): void {
    for (const held of this.byUser.get(userId) ?? []) this.send(held, message);
  }

  /** Closes the sockets whose session or user was revoked. */
  closeRevoked(): void {
    for (const sockets of this.byUser.values()) {
      for (const held of sockets) {
        if (this.deps.revoked(held.subject)) held.ws.close(CLOSE_REVOKED, "session revoked");
      }
    }
  }

  close(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.sweep);
    this.server.off("upgrade", this.onUpgrade);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }

  private async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway");
    if (url.pathname !== LIVE_PATH) return refuse(socket, 404, "NOT_FOUND", "Not found");
    const origin = req.headers.origin;
    if (origin !== undefined && !this.deps.originAllowed(origin)) {
      return refuse(socket, 403, "FORBIDDEN", "This origin may not open live sockets");
    }
    const since = url.searchParams.get("since");
    if (since !== null && !UUID.test(since)) {
      return refuse(socket, 400, "BAD_REQUEST", "since must be the id of a live message");
    }
    if (this.open + this.opening >= this.deps.limits.perNode) {
      return refuse(socket, 503, "SERVICE_UNAVAILABLE", "This node holds all the sockets it can");
    }
    this.opening++;
    try {
      const subject = await this.deps.redeem(url.searchParams.get("ticket") ?? "");
      if (!subject || this.deps.revoked(subject)) {
        return refuse(socket, 401, "UNAUTHORIZED", "A valid, unused live ticket is required");
      }
      if ((this.byUser.get(subject.userId)?.size ?? 0) >= this.deps.limits.perUser) {
        return refuse(socket, 429, "TOO_MANY_REQUESTS", "Too many live sockets for this user");
      }
      const ws = await new Promise<WebSocket>(resolve =>
        this.wss.handleUpgrade(req, socket, head, resolve),
      );
      this.hold(ws, subject, since);
    } finally {
      this.opening--;
    }
  }

  private hold(ws: WebSocket, subject: LiveSubject, since: string | null): void {
    const held: Held = { ws, subject, alive: true, pending: since ? [] : undefined };
    let sockets = this.byUser.get(subject.userId);
    if (!sockets) this.byUser.set(subject.userId, (sockets = new Set()));
    sockets.add(held);
    this.open++;
    ws.on("pong", () => {
      held.alive = true;
    });
    ws.on("error", () => ws.terminate());
    ws.on("close", () => {
      this.open--;
      sockets.delete(held);
      if (sockets.size === 0) this.byUser.delete(subject.userId);
    });
    if (since) void this.replay(held, since);
  }

  private async replay(held: Held, since: string): Promise<void> {
    let missed: LiveMessage[] = [];
    try {
      missed = await this.deps.replay(held.subject.userId, since);
    } catch (err) {
      // The socket still gets what happens from now on; the client reloads what it missed.
      this.deps.logger.warn(`live: replay since ${since} failed: ${(err as Error).message}`);
    }
    const replayed = new Set(missed.map(message => message.id));
    const arrived = held.pending ?? [];
    held.pending = undefined;
    for (const message of missed) this.send(held, message);
    for (const message of arrived) if (!replayed.has(message.id)) this.send(held, message);
  }

  private send(held: Held, message: LiveMessage): void {
    if (held.pending) {
      held.pending.push(message);
      return;
    }
    if (sendOrDrop(held.ws, message, this.deps.limits.maxBufferedBytes) === "dropped") {
      this.deps.logger.info(
        `live: a socket of ${held.subject.userId} was too slow and was dropped`,
      );
    }
  }

  private beat(): void {
    for (const sockets of this.byUser.values()) {
      for (const held of sockets) {
        if (!held.alive) {
          held.ws.terminate();
          continue;
        }
        held.alive = false;
        held.ws.ping();
      }
    }
  }
}
