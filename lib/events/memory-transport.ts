import type { EventEnvelope } from "../../models/events.model";
import {
  errorOf,
  retryDelay,
  type ConsumerGroupSpec,
  type EventTransport,
  type GroupTopology,
  type ReplayResult,
  type Subscription,
} from "./transport";

/**
 * The embedded stand-in for RabbitMQ (AMQP_URL unset): an in-process bus per
 * namespace with the same semantics the AMQP transport gives — one queue per
 * consuming service shared by every broker of that service in this process
 * (consumer group), bounded concurrency, retry with exponential back-off and dead
 * letters after the delivery limit, kept in the consuming service's database.
 *
 * A publish resolves only once every bound group has settled the event (handled, or
 * dead-lettered and that dead letter stored), so the outbox row stays unsent until then:
 * a process that exits with events still queued here re-publishes them from the outbox
 * at its next start.
 *
 * A group declared ahead of its consumer (EventTransport.declare) whose service this
 * node runs (SERVICES) but which no consumer has joined yet fails the publish at once:
 * the row stays unsent (tried again, then parked by the relay) instead of being marked
 * sent for a consumer that has not got it. The groups that did get the event are not
 * given it again. A group whose service this node does not run is not bound at all:
 * in-process delivery is single-node only (cluster mode needs AMQP_URL), so nothing
 * would ever consume it.
 */

interface Message {
  envelope: EventEnvelope;
  attempts: number;
  settle(error?: Error): void;
}

interface Consumer {
  spec: ConsumerGroupSpec;
  inFlight: number;
  active: boolean;
  running: Set<Promise<void>>;
}

export class MemoryGroup {
  readonly bindings = new Set<string>();
  private readonly ready: Message[] = [];
  private readonly consumers: Consumer[] = [];
  private cursor = 0;

  constructor(readonly name: string) {}

  /** Binds types ahead of the group's first consumer (a producer declaring its consumers). */
  declare(types: string[]): void {
    for (const type of types) this.bindings.add(type);
  }

  /** Whether a consumer in this process takes this group's events. */
  get consumed(): boolean {
    return this.consumers.some(consumer => consumer.active);
  }

  /** Events waiting for a free consumer (not counting those waiting out a retry delay). */
  get depth(): number {
    return this.ready.length;
  }

  enqueue(envelope: EventEnvelope): Promise<void> {
    if (!this.consumed)
      return Promise.reject(
        new Error(`no consumer of ${this.name} runs in this process (it needs AMQP_URL to get it)`),
      );
    return new Promise((resolve, reject) => {
      this.ready.push({
        envelope,
        attempts: 0,
        settle: error => (error ? reject(error) : resolve()),
      });
      this.dispatch();
    });
  }

  /** Puts stored dead letters back in the queue with a fresh attempt count. */
  async replay(
    limit: number,
    replayable: (envelope: EventEnvelope) => boolean,
  ): Promise<ReplayResult> {
    const store = this.consumers.find(consumer => consumer.active)?.spec.deadLetters;
    const result: ReplayResult = { replayed: 0, refused: 0 };
    if (!store) return result;
    for (const { dead, remove } of await store.take(this.name, limit)) {
      if (!replayable(dead.envelope)) {
        result.refused++;
        continue;
      }
      result.replayed++;
      // The stored copy goes once the replayed one is settled: a crash before replays it again.
      this.ready.push({
        envelope: dead.envelope,
        attempts: 0,
        settle: error => {
          if (!error) void remove().catch(() => undefined);
        },
      });
    }
    this.dispatch();
    return result;
  }

  addConsumer(spec: ConsumerGroupSpec): Subscription {
    const consumer: Consumer = { spec, inFlight: 0, active: true, running: new Set() };
    for (const type of spec.types) this.bindings.add(type);
    this.consumers.push(consumer);
    this.dispatch();
    return {
      stop: async () => {
        consumer.active = false;
        await Promise.allSettled([...consumer.running]);
        const index = this.consumers.indexOf(consumer);
        if (index >= 0) this.consumers.splice(index, 1);
        // What it left queued goes to the others, or fails its publish (the row stays unsent).
        if (!this.consumed) for (const message of this.ready.splice(0)) message.settle(stopped);
        this.dispatch();
      },
    };
  }

  private pick(): Consumer | undefined {
    for (let i = 0; i < this.consumers.length; i++) {
      const consumer = this.consumers[(this.cursor + i) % this.consumers.length];
      if (consumer.active && consumer.inFlight < consumer.spec.prefetch) {
        this.cursor = (this.cursor + i + 1) % this.consumers.length;
        return consumer;
      }
    }
    return undefined;
  }

  private dispatch(): void {
    while (this.ready.length > 0) {
      const consumer = this.pick();
      if (!consumer) return;
      this.run(consumer, this.ready.shift() as Message);
    }
  }

  private run(consumer: Consumer, message: Message): void {
    consumer.inFlight++;
    message.attempts++;
    const { spec } = consumer;
    const task = Promise.resolve()
      .then(() => spec.handle(message.envelope))
      .then(
        () => {
          spec.handled?.(message.envelope);
          message.settle();
        },
        (err: unknown) => this.failed(spec, message, errorOf(err)),
      )
      .finally(() => {
        consumer.inFlight--;
        consumer.running.delete(task);
        this.dispatch();
      });
    consumer.running.add(task);
  }

  private async failed(spec: ConsumerGroupSpec, message: Message, error: Error): Promise<void> {
    if (message.attempts >= spec.retry.maxAttempts) {
      const dead = {
        envelope: message.envelope,
        attempts: message.attempts,
        error: error.message,
        failedAt: new Date().toISOString(),
      };
      try {
        if (!spec.deadLetters) throw new Error("no dead-letter store");
        await spec.deadLetters.add(this.name, dead);
      } catch (err) {
        // Not stored: the publish fails, so the outbox row stays unsent and comes back.
        message.settle(
          new Error(`dead letter of ${this.name} not stored: ${errorOf(err).message}`),
        );
        return;
      }
      spec.deadLettered?.(message.envelope, message.attempts, error);
      message.settle();
      return;
    }
    spec.retried?.(message.envelope, message.attempts, error);
    // unref: a pending retry must not keep a stopping process alive (the outbox replays it).
    setTimeout(
      () => {
        this.ready.push(message);
        this.dispatch();
      },
      retryDelay(spec.retry, message.attempts),
    ).unref();
  }
}

const stopped = new Error("the group's last consumer in this process stopped");

export class MemoryBus {
  private readonly groups = new Map<string, MemoryGroup>();
  /** Per event id still being published: the groups that have settled it already. */
  private readonly settled = new Map<string, Set<string>>();

  group(name: string): MemoryGroup {
    let group = this.groups.get(name);
    if (!group) {
      group = new MemoryGroup(name);
      this.groups.set(name, group);
    }
    return group;
  }

  /** Like a topic exchange: every group bound to the type gets its own copy, once. */
  async publish(envelope: EventEnvelope): Promise<void> {
    const done = this.settled.get(envelope.id) ?? new Set<string>();
    const targets = [...this.groups.values()].filter(
      group => group.bindings.has(envelope.type) && !done.has(group.name),
    );
    const results = await Promise.allSettled(
      targets.map(group => group.enqueue(envelope).then(() => void done.add(group.name))),
    );
    const failure = results.find(result => result.status === "rejected");
    if (!failure) {
      this.settled.delete(envelope.id);
      return;
    }
    this.settled.set(envelope.id, done);
    throw errorOf(failure.reason);
  }
}

const buses = new Map<string, MemoryBus>();

/** The process-wide bus of a namespace (several brokers of one namespace share it). */
function memoryBus(namespace: string): MemoryBus {
  let bus = buses.get(namespace);
  if (!bus) {
    bus = new MemoryBus();
    buses.set(namespace, bus);
  }
  return bus;
}

export class MemoryTransport implements EventTransport {
  readonly publishSettles = "handled" as const;
  private closed = false;
  private readonly bus: MemoryBus;

  constructor(
    namespace: string,
    /** Whether this node runs the service of a consumer group (SERVICES). */
    private readonly runsHere: (group: string) => boolean,
  ) {
    this.bus = memoryBus(namespace);
  }

  get connected(): boolean {
    return !this.closed;
  }

  publish(envelope: EventEnvelope): Promise<void> {
    if (this.closed) return Promise.reject(new Error("in-process event bus closed"));
    return this.bus.publish(envelope);
  }

  async subscribe(spec: ConsumerGroupSpec): Promise<Subscription> {
    return this.bus.group(spec.group).addConsumer(spec);
  }

  async declare(groups: GroupTopology[]): Promise<void> {
    for (const { group, types } of groups)
      if (this.runsHere(group)) this.bus.group(group).declare(types);
  }

  async replayDeadLetters(
    group: string,
    limit: number,
    replayable: (envelope: EventEnvelope) => boolean = () => true,
  ): Promise<ReplayResult> {
    return this.bus.group(group).replay(limit, replayable);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
