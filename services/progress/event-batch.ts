import type { Transaction } from "sequelize";
import type { DomainEvents, EventEnvelope } from "../../models/events.model";
import type { EmitDurable, ProgressEventType } from "./awards";
import * as store from "./store";

/**
 * A change's progress.* events, collected while it runs and written when it is done: each
 * learner's sequences reserved in one write, every outbox row in one statement — instead of
 * two statements an event inside the learner's row lock.
 */
export interface EventBatch {
  emit: EmitDurable;
  /** Writes the collected events in `t`, in the order they were emitted. */
  flush(t: Transaction): Promise<void>;
}

/** What the batch needs of the durable-events mixin. */
export interface EnvelopeWriter {
  envelope<T extends ProgressEventType>(type: T, data: DomainEvents[T]): EventEnvelope<T>;
  write(envelopes: EventEnvelope[], t: Transaction): Promise<void>;
  /** The learners whose events `t` wrote, told to the gateways once it commits. */
  changed(userIds: string[], t: Transaction): void;
}

interface Pending {
  userId: string;
  envelope: (sequence: number) => EventEnvelope;
}

export function collectEvents(db: store.Db, writer: EnvelopeWriter): EventBatch {
  let pending: Pending[] = [];
  return {
    async emit(type, data) {
      pending.push({
        userId: data.userId,
        // events.md: a per-aggregate version in every event, the learner's next at the flush.
        envelope: sequence =>
          writer.envelope(type, { ...data, sequence } as DomainEvents[typeof type]),
      });
    },
    async flush(t) {
      const events = pending;
      pending = [];
      if (events.length === 0) return;
      const next = new Map<string, number>();
      for (const userId of new Set(events.map(e => e.userId))) {
        const count = events.filter(e => e.userId === userId).length;
        next.set(userId, await store.reserveEventSequences(db, userId, count, t));
      }
      const envelopes = events.map(e => {
        const sequence = next.get(e.userId) ?? 0;
        next.set(e.userId, sequence + 1);
        return e.envelope(sequence);
      });
      await writer.write(envelopes, t);
      writer.changed([...next.keys()], t);
    },
  };
}
