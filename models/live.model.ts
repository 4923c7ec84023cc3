/**
 * Live messages (api.md `GET /live`): what notify tells a learner's open WebSockets, and how
 * a message travels from notify to whichever gateway node holds those sockets.
 */

export type LiveMessageType =
  "notification.created" | "xp.awarded" | "streak.changed" | "achievement.unlocked" | "review.due";

/** One server message on the socket: `id` is a UUID v7, so ids sort by time (`?since=<id>`). */
export interface LiveMessage {
  id: string;
  type: LiveMessageType;
  at: string;
  data: Record<string, unknown>;
}

/**
 * The Moleculer event notify broadcasts to the `api` group once a message is committed: every
 * gateway node hears it and writes it to the user's sockets it holds (none on most nodes).
 */
export const LIVE_DELIVERY_EVENT = "live.delivery";

export interface LiveDelivery {
  userId: string;
  message: LiveMessage;
}

/** How far back `?since=` replays. */
export const LIVE_REPLAY_WINDOW_MS = 24 * 3600_000;
