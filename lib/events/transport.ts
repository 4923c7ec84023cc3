import {
  EVENT_CONSUMERS,
  type DomainEventType,
  type EventEnvelope,
} from "../../models/events.model";

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

interface DeliveryObserver {
  handled?(envelope: EventEnvelope): void;
  retried?(envelope: EventEnvelope, attempt: number, error: Error): void;
  deadLettered?(envelope: EventEnvelope | undefined, attempts: number, error: Error): void;
}

/** What the consumer's database knows of an event the broker delivers again. */
interface RedeliveryRecord {
  /** Already handled: the delivery is acked without running anything. */
  applied: boolean;
  /** Redelivered deliveries of it whose handling started (this one included). */
  lostStarts: number;
}

export interface ReplayResult {
  /** Moved back to the group's queue. */
  replayed: number;
  /** Left in the dead-letter queue: too old to tell whether it was applied. */
  refused: number;
}

/** What the broker keeps for a consumer group: its queue, the types bound to it, its retry topology. */
export interface GroupTopology {
  /** The consuming service: one queue (`<namespace>.<group>`) shared by all its nodes. */
  group: string;
  /** Event types the group is bound to. */
  types: string[];
  retry: RetryPolicy;
}

export interface ConsumerGroupSpec extends GroupTopology, DeliveryObserver {
  /** Resolves when the event is handled (or was already); rejects to have it retried. */
  handle(envelope: EventEnvelope): Promise<void>;
  /** Most events handled at once by this node for this group. */
  prefetch: number;
  /**
   * AMQP: called (one at a time) for a delivery the broker redelivers after a lost
   * connection, before it is handled; records that its handling starts again.
   */
  redelivered?(envelope: EventEnvelope): Promise<RedeliveryRecord>;
  /** In-process delivery: where dead letters are kept (the consuming service's database). */
  deadLetters?: DeadLetterStore;
}

interface DeadLetter {
  envelope: EventEnvelope;
  attempts: number;
  error: string;
  failedAt: string;
}

/** Dead letters of the in-process bus, kept in the consuming service's database. */
export interface DeadLetterStore {
  add(group: string, dead: DeadLetter): Promise<void>;
  /** Up to `limit` of the oldest, each with a function that removes it once replayed. */
  take(group: string, limit: number): Promise<Array<{ dead: DeadLetter; remove(): Promise<void> }>>;
}

/** The consumer groups of the event catalog (models/events.model.ts), each with the types it consumes. */
export function catalogGroups(retry: RetryPolicy): GroupTopology[] {
  const types = new Map<string, string[]>();
  for (const [type, consumers] of Object.entries(EVENT_CONSUMERS) as Array<
    [DomainEventType, readonly string[]]
  >) {
    for (const group of consumers) types.set(group, [...(types.get(group) ?? []), type]);
  }
  return [...types].map(([group, bound]) => ({ group, types: bound, retry }));
}

export interface Subscription {
  /** Stops taking new events, waits for the ones being handled, then closes. */
  stop(): Promise<void>;
}

export interface EventTransport {
  /**
   * When a publish settles: `confirm` — once the broker has the event (a publisher confirm, at
   * most a confirm timeout away), so the relay publishes whole batches without waiting on them
   * and keeps their leases that long; `handled` — once a consumer has handled it (the
   * in-process bus), so the relay tracks each row alone and passes its rows over meanwhile.
   */
  readonly publishSettles: "confirm" | "handled";
  /** Whether a publish can succeed now (the relay waits while it cannot). */
  readonly connected: boolean;
  /** Resolves once the event is safely with the broker (AMQP: publisher confirm). */
  publish(envelope: EventEnvelope): Promise<void>;
  subscribe(spec: ConsumerGroupSpec): Promise<Subscription>;
  /**
   * Declares consumer groups without consuming (a producer declares its events' consumers),
   * exactly as their consumers do: an event published before its consumer has ever run
   * waits in the group's queue. Declared again whenever the transport reconnects.
   */
  declare(groups: GroupTopology[]): Promise<void>;
  /**
   * Moves up to `limit` dead-lettered events of a consumer group back to its queue with a
   * fresh attempt count (after the cause was fixed). One `replayable` refuses stays
   * dead-lettered (its consumer could no longer tell whether it was applied).
   */
  replayDeadLetters(
    group: string,
    limit: number,
    replayable?: (envelope: EventEnvelope) => boolean,
  ): Promise<ReplayResult>;
  close(): Promise<void>;
}

export function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
