import type { Model } from "mongoose";
import type { EventEnvelope } from "../../models/events.model";
import { inIdOrder, type OutboxRow } from "./outbox-store";

/**
 * The outbox of a store kept in MongoDB, where no write spans two documents (FerretDB v1
 * has no multi-document transactions, and MongoDB's need a replica set). The events of a
 * write ride in that same single-document write, on the document it changes:
 *   outboxPending    ids of the events not yet published (indexed: the relay's scan)
 *   outboxEvents     id → envelope
 *   outboxLeaseUntil the relay that claimed the document's events holds them until then
 * A document carrying events is never deleted: it becomes a tombstone (`deleted: true`)
 * that readers skip and this store removes once its last event is published.
 * OutboxRelay drives it exactly like the PostgreSQL outbox (same claims, leases, confirms).
 */

interface OutboxFields {
  outboxPending?: string[];
  outboxEvents?: Record<string, EventEnvelope>;
  outboxLeaseUntil?: Date | null;
  outboxAttempts?: number;
  outboxLastError?: string | null;
  /** Set when the document's events failed maxPublishAttempts claims: the relay leaves them for an operator. */
  outboxParkedAt?: Date | null;
  deleted?: boolean;
}

/** The mongoose schema fields each carrying collection adds. */
export const OUTBOX_SCHEMA_FIELDS = {
  outboxPending: { type: [String], index: true, default: undefined },
  outboxEvents: { type: Object, default: undefined },
  outboxLeaseUntil: { type: Date, default: undefined },
  outboxAttempts: { type: Number, default: undefined },
  outboxLastError: { type: String, default: undefined },
  outboxParkedAt: { type: Date, default: undefined },
  deleted: { type: Boolean, default: undefined },
} as const;

/** Readers of a carrying collection skip tombstones. */
export const LIVE = { deleted: { $ne: true } } as const;

/**
 * The events a unit of work emitted, waiting for the write that carries them. The content
 * service passes it where the PostgreSQL store gets its transaction.
 */
export class PendingEvents {
  private readonly waiting: EventEnvelope[] = [];
  private carriedCount = 0;

  add(envelope: EventEnvelope): void {
    this.waiting.push(envelope);
  }

  /** Hands the matching events to the write that stores them. */
  take(match: (envelope: EventEnvelope) => boolean = () => true): EventEnvelope[] {
    const taken = this.waiting.filter(match);
    for (const envelope of taken) this.waiting.splice(this.waiting.indexOf(envelope), 1);
    this.carriedCount += taken.length;
    return taken;
  }

  get carried(): number {
    return this.carriedCount;
  }

  /** An event no write took would be lost: a bug in the use case's order of writes. */
  assertAllCarried(): void {
    if (this.waiting.length > 0) {
      throw new Error(
        `events emitted without a MongoDB write to carry them: ${this.waiting.map(e => e.type).join(", ")}`,
      );
    }
  }
}

/** The update parts that store `events` in the same write as `set`. */
export function withEvents(
  set: Record<string, unknown>,
  events: EventEnvelope[],
): { $set: Record<string, unknown>; $push?: { outboxPending: { $each: string[] } } } {
  if (events.length === 0) return { $set: set };
  const $set = { ...set };
  for (const envelope of events) $set[`outboxEvents.${envelope.id}`] = envelope;
  return { $set, $push: { outboxPending: { $each: events.map(e => e.id) } } };
}

/** A collection's documents as the store sees them (it reads only its own fields). */
type CarrierModel = Model<Record<string, unknown> & { _id: string }>;
type CarrierDoc = OutboxFields & { _id: string };

export class MongoOutboxStore {
  constructor(
    /** Named in the relay's warnings. */
    readonly schema: string,
    private readonly carriers: CarrierModel[],
  ) {}

  /**
   * Leases the pending events of up to `limit` documents. The lease is per document and
   * taken with a conditional single-document update, so two relays never hold the same
   * events at once; a relay that dies only delays them until the lease runs out.
   */
  async claim(limit: number, leaseMs: number, skipIds: string[]): Promise<OutboxRow[]> {
    const rows: OutboxRow[] = [];
    for (const model of this.carriers) {
      if (rows.length >= limit) break;
      const now = new Date();
      const claimable = {
        "outboxPending.0": { $exists: true },
        outboxParkedAt: null,
        $or: [{ outboxLeaseUntil: null }, { outboxLeaseUntil: { $lt: now } }],
      };
      const filter =
        skipIds.length > 0 ? { ...claimable, outboxPending: { $nin: skipIds } } : claimable;
      const candidates = await model
        .find(filter, { _id: 1 })
        .sort({ _id: 1 })
        .limit(limit - rows.length)
        .lean<Array<{ _id: string }>>();
      for (const { _id } of candidates) {
        const doc = await model
          .findOneAndUpdate(
            { _id, ...claimable },
            {
              $set: { outboxLeaseUntil: new Date(now.getTime() + leaseMs) },
              $inc: { outboxAttempts: 1 },
            },
            // No projection: FerretDB v1 refuses one on findAndModify.
            { new: true },
          )
          .lean<CarrierDoc>();
        for (const id of doc?.outboxPending ?? []) {
          const payload = doc?.outboxEvents?.[id];
          if (payload) rows.push({ id, payload });
        }
      }
    }
    return rows.sort(inIdOrder);
  }

  async extendLease(ids: string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return;
    const until = new Date(Date.now() + leaseMs);
    for (const model of this.carriers)
      // Only documents still leased (see OutboxStore.extendLease).
      await model.updateMany(
        { outboxPending: { $in: ids }, outboxLeaseUntil: { $ne: null } },
        { $set: { outboxLeaseUntil: until } },
      );
  }

  /** Published: the events leave their documents, and tombstones left with none go. */
  async markSent(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    // A document carries event after event over its life: its attempts count the current ones only.
    const $unset: Record<string, ""> = {
      outboxLeaseUntil: "",
      outboxLastError: "",
      outboxAttempts: "",
    };
    for (const id of ids) $unset[`outboxEvents.${id}`] = "";
    for (const model of this.carriers) {
      const docs = await model
        .find({ outboxPending: { $in: ids } }, { _id: 1 })
        .lean<Array<{ _id: string }>>();
      if (docs.length === 0) continue;
      const docIds = docs.map(d => d._id);
      // $pullAll, not $pull with a condition: FerretDB v1 pulls exact values only.
      await model.updateMany(
        { _id: { $in: docIds } },
        { $pullAll: { outboxPending: ids }, $unset },
      );
      await model.deleteMany({
        _id: { $in: docIds },
        deleted: true,
        "outboxPending.0": { $exists: false },
      });
    }
  }

  /** A failed publish gives the documents' events back at once (the next poll retries them). */
  async release(ids: string[], error: string): Promise<void> {
    if (ids.length === 0) return;
    for (const model of this.carriers)
      await model.updateMany(
        { outboxPending: { $in: ids } },
        { $set: { outboxLeaseUntil: null, outboxLastError: error.slice(0, 1000) } },
      );
  }

  async backlog(): Promise<number> {
    let count = 0;
    for (const model of this.carriers) {
      const [row] = await model.aggregate<{ n: number }>([
        { $match: { "outboxPending.0": { $exists: true } } },
        { $unwind: "$outboxPending" },
        { $count: "n" },
      ]);
      count += row?.n ?? 0;
    }
    return count;
  }

  /**
   * Parks the events of documents claimed `maxAttempts` times without a publish (and not
   * leased now): the relay stops retrying them, the caller alerts; `unpark` gives them back.
   */
  async parkExhausted(
    maxAttempts: number,
  ): Promise<Array<{ id: string; type: string; lastError: string | null }>> {
    const parked: Array<{ id: string; type: string; lastError: string | null }> = [];
    for (const model of this.carriers) {
      const exhausted = {
        "outboxPending.0": { $exists: true },
        outboxParkedAt: null,
        outboxAttempts: { $gte: maxAttempts },
        $or: [{ outboxLeaseUntil: null }, { outboxLeaseUntil: { $lt: new Date() } }],
      };
      const candidates = await model.find(exhausted, { _id: 1 }).lean<Array<{ _id: string }>>();
      for (const { _id } of candidates) {
        const doc = await model
          .findOneAndUpdate(
            { _id, ...exhausted },
            { $set: { outboxParkedAt: new Date() } },
            { new: true },
          )
          .lean<CarrierDoc>();
        for (const id of doc?.outboxPending ?? [])
          parked.push({
            id,
            type: doc?.outboxEvents?.[id]?.type ?? "unknown",
            lastError: doc?.outboxLastError ?? null,
          });
      }
    }
    return parked;
  }

  /** Gives parked documents' events (at most `limit` documents) back to the relay with a fresh count. */
  async unpark(limit: number): Promise<number> {
    let events = 0;
    for (const model of this.carriers) {
      const docs = await model
        .find(
          { outboxParkedAt: { $ne: null }, "outboxPending.0": { $exists: true } },
          { _id: 1, outboxPending: 1 },
        )
        .limit(limit)
        .lean<Array<{ _id: string; outboxPending?: string[] }>>();
      if (docs.length === 0) continue;
      await model.updateMany(
        { _id: { $in: docs.map(d => d._id) } },
        { $set: { outboxParkedAt: null, outboxAttempts: 0 } },
      );
      events += docs.reduce((sum, d) => sum + (d.outboxPending?.length ?? 0), 0);
    }
    return events;
  }

  async parked(): Promise<number> {
    let count = 0;
    for (const model of this.carriers) {
      const [row] = await model.aggregate<{ n: number }>([
        { $match: { outboxParkedAt: { $ne: null }, "outboxPending.0": { $exists: true } } },
        { $unwind: "$outboxPending" },
        { $count: "n" },
      ]);
      count += row?.n ?? 0;
    }
    return count;
  }

  /** Published events leave at once (nothing to keep); tombstones a crash left behind go here. */
  async prune(): Promise<void> {
    for (const model of this.carriers)
      await model.deleteMany({ deleted: true, "outboxPending.0": { $exists: false } });
  }
}
