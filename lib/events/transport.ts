import type { EventEnvelope } from "../../models/events.model";

/** How a consumer group retries a failing event before dead-lettering it. */
export interface RetryPolicy {
  /** Deliveries of one event to a handler before it goes to the dead-letter queue. */
  maxAttempts: number;
  /** Delay before the 2nd delivery; each further one doubles it, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /**
   * Deliveries that ended with neither ack nor nack (the consumer died or lost its
   * connection while handling it) before the broker dead-letters the event itself, so
   * an event that crashes its consumer cannot loop forever. AMQP only.
   */
  redeliveryLimit?: number;
}

/** Delay before re-delivering after the `failedAttempt`-th failure (1-based). */
export function retryDelay(policy: RetryPolicy, failedAttempt: number): number {
  return Math.min(policy.maxDelayMs, Math.round(policy.baseDelayMs * 2 ** (failedAttempt - 1)));
}

/** The distinct delays a policy uses (one AMQP delay queue each). */
export function retryDelays(policy: RetryPolicy): number[] {
  const delays = new Set<number>();
  for (let attempt = 1; attempt < policy.maxAttempts; attempt++)
    delays.add(retryDelay(policy, attempt));
  return [...delays];
}

export interface DeliveryObserver {
  handled?(envelope: EventEnvelope): void;
  retried?(envelope: EventEnvelope, attempt: number, error: Error): void;
  deadLettered?(envelope: EventEnvelope | undefined, attempts: number, error: Error): void;
}

export interface ConsumerGroupSpec extends DeliveryObserver {
  /** The consuming service: one queue (`<namespace>.<group>`) shared by all its nodes. */
  group: string;
  /** Event types the group is bound to. */
  types: string[];
  /** Resolves when the event is handled (or was already); rejects to have it retried. */
  handle(envelope: EventEnvelope): Promise<void>;
  /** Most events handled at once by this node for this group. */
  prefetch: number;
  retry: RetryPolicy;
}

export interface Subscription {
  /** Stops taking new events, waits for the ones being handled, then closes. */
  stop(): Promise<void>;
}

export interface EventTransport {
  readonly kind: "amqp" | "memory";
  /** Whether a publish can succeed now (the relay waits while it cannot). */
  readonly connected: boolean;
  /** Resolves once the event is safely with the broker (AMQP: publisher confirm). */
  publish(envelope: EventEnvelope): Promise<void>;
  subscribe(spec: ConsumerGroupSpec): Promise<Subscription>;
  /**
   * Moves up to `limit` dead-lettered events of a consumer group back to its queue with a
   * fresh attempt count (after the cause was fixed). Resolves with how many were moved.
   */
  replayDeadLetters(group: string, limit: number): Promise<number>;
  close(): Promise<void>;
}

export function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
