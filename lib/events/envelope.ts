import { v7 as uuidv7 } from "uuid";
import type { DomainEventType, DomainEvents, EventEnvelope } from "../../models/events.model";

/** The envelope version this code writes (shared/design/events.md). */
const ENVELOPE_VERSION = 1;

export interface EnvelopeSource {
  /** Name of the producing service. */
  producer: string;
  /** ctx.requestID of the request that caused the event, so logs can be joined across services. */
  requestId?: string | null;
}

export function createEnvelope<T extends DomainEventType>(
  type: T,
  data: DomainEvents[T],
  source: EnvelopeSource,
): EventEnvelope<T> {
  const envelope: EventEnvelope<T> = {
    id: uuidv7(),
    type,
    version: ENVELOPE_VERSION,
    occurredAt: new Date().toISOString(),
    producer: source.producer,
    data,
  };
  if (source.requestId) envelope.requestId = source.requestId;
  return envelope;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InvalidEnvelopeError extends Error {
  constructor(problem: string) {
    super(`Invalid event envelope: ${problem}`);
    this.name = "InvalidEnvelopeError";
  }
}

/**
 * Checks the shape of an envelope read from the wire. The event type need not be one
 * this code knows (a newer producer may emit more); consumers only see types they bind.
 */
export function parseEnvelope(raw: Buffer | string): EventEnvelope {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch {
    throw new InvalidEnvelopeError("not JSON");
  }
  if (value === null || typeof value !== "object") throw new InvalidEnvelopeError("not an object");
  const env = value as Record<string, unknown>;
  if (typeof env.id !== "string" || !UUID.test(env.id)) throw new InvalidEnvelopeError("id");
  if (typeof env.type !== "string" || env.type === "") throw new InvalidEnvelopeError("type");
  if (typeof env.version !== "number") throw new InvalidEnvelopeError("version");
  if (typeof env.occurredAt !== "string") throw new InvalidEnvelopeError("occurredAt");
  if (typeof env.producer !== "string") throw new InvalidEnvelopeError("producer");
  if (env.data === null || typeof env.data !== "object") throw new InvalidEnvelopeError("data");
  return value as EventEnvelope;
}
