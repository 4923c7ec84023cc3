import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../db/sql";
import type { EventEnvelope } from "../../models/events.model";

/**
 * The two tables of the durable-event mixin, in the service's own schema:
 *   outbox            events written in the producer's transaction, relayed after commit
 *   processed_events  (consumer, event id) of every event a consumer handled, so a
 *                     redelivery changes nothing twice
 *   delivery_starts   (consumer, event id) of redelivered events whose handling started
 *                     again: what counts against the redelivery limit
 *   dead_letters      the in-process bus's dead letters (AMQP keeps them in its DLQ)
 * The mixin creates them itself (idempotently, under an advisory lock) so it works
 * beside any migration list.
 */

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function quoteSchema(schema: string): string {
  if (!IDENTIFIER.test(schema)) throw new Error(`Invalid schema name "${schema}"`);
  return `"${schema}"`;
}

export interface OutboxRow {
  id: string;
  payload: EventEnvelope;
}

/** Claimed rows go out in id order (UUIDv7: creation order) whichever store held them. */
export const inIdOrder = (a: OutboxRow, b: OutboxRow): number =>
  a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

export class OutboxStore {
  private readonly s: string;

  constructor(
    private readonly sequelize: Sequelize,
    readonly schema: string,
  ) {
    this.s = quoteSchema(schema);
  }

  /**
   * Many nodes may start at once: the lock makes the DDL run one at a time. The DDL locks
   * the tables (even where nothing is missing), and a node already running holds row locks
   * on them in its own transactions: a node that finds the tables in place runs none of it,
   * checked again under the lock for the nodes that waited on it.
   */
  async ensureTables(): Promise<void> {
    if (await this.tablesInPlace()) return;
    await this.sequelize.transaction(async transaction => {
      await execute(this.sequelize, "SELECT pg_advisory_xact_lock(hashtext(:key))", {
        replacements: { key: `lingomesh:durable-events:${this.schema}` },
        transaction,
      });
      if (await this.tablesInPlace(transaction)) return;
      await execute(this.sequelize, `CREATE SCHEMA IF NOT EXISTS ${this.s}`, { transaction });
      await execute(
        this.sequelize,
        `CREATE TABLE IF NOT EXISTS ${this.s}.outbox (
           id uuid PRIMARY KEY,
           type text NOT NULL,
           payload jsonb NOT NULL,
           created_at timestamptz NOT NULL DEFAULT now(),
           sent_at timestamptz,
           lease_until timestamptz,
           attempts integer NOT NULL DEFAULT 0,
           last_error text
         )`,
        { transaction },
      );
      // The relay only ever scans unsent rows; keep that scan small however many were sent.
      await execute(
        this.sequelize,
        `CREATE INDEX IF NOT EXISTS outbox_unsent_idx ON ${this.s}.outbox (id) WHERE sent_at IS NULL`,
        { transaction },
      );
      await execute(
        this.sequelize,
        `CREATE INDEX IF NOT EXISTS outbox_sent_at_idx ON ${this.s}.outbox (sent_at) WHERE sent_at IS NOT NULL`,
        { transaction },
      );
      await execute(
        this.sequelize,
        `CREATE TABLE IF NOT EXISTS ${this.s}.processed_events (
           consumer text NOT NULL,
           event_id uuid NOT NULL,
           event_type text NOT NULL,
           processed_at timestamptz NOT NULL DEFAULT now(),
           PRIMARY KEY (consumer, event_id)
         )`,
        { transaction },
      );
      await execute(
        this.sequelize,
        `CREATE INDEX IF NOT EXISTS processed_events_at_idx ON ${this.s}.processed_events (processed_at)`,
        { transaction },
      );
      // Rows whose publish failed too often: kept, but out of the relay's way until an operator acts.
      await execute(
        this.sequelize,
        `ALTER TABLE ${this.s}.outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz`,
        { transaction },
      );
      await execute(
        this.sequelize,
        `CREATE TABLE IF NOT EXISTS ${this.s}.delivery_starts (
           consumer text NOT NULL,
           event_id uuid NOT NULL,
           starts integer NOT NULL,
           updated_at timestamptz NOT NULL DEFAULT now(),
           PRIMARY KEY (consumer, event_id)
         )`,
        { transaction },
      );
      await execute(
        this.sequelize,
        `CREATE TABLE IF NOT EXISTS ${this.s}.dead_letters (
           id bigserial PRIMARY KEY,
           consumer text NOT NULL,
           event_id uuid NOT NULL,
           payload jsonb NOT NULL,
           attempts integer NOT NULL,
           error text NOT NULL,
           failed_at timestamptz NOT NULL
         )`,
        { transaction },
      );
    });
  }

  /**
   * Whether the objects ensureTables added last are there: it creates everything in one
   * transaction, so they stand for the rest. A new object joins this check.
   */
  private async tablesInPlace(transaction?: Transaction): Promise<boolean> {
    const [row] = await selectRows<{ in_place: boolean }>(
      this.sequelize,
      `SELECT to_regclass(:deadLetters) IS NOT NULL
          AND to_regclass(:deliveryStarts) IS NOT NULL
          AND EXISTS (SELECT 1 FROM pg_attribute
                       WHERE attrelid = to_regclass(:outbox) AND attname = 'parked_at'
                         AND NOT attisdropped) AS in_place`,
      {
        replacements: {
          deadLetters: `${this.s}.dead_letters`,
          deliveryStarts: `${this.s}.delivery_starts`,
          outbox: `${this.s}.outbox`,
        },
        transaction,
      },
    );
    return row?.in_place === true;
  }

  async insert(envelope: EventEnvelope, transaction?: Transaction): Promise<void> {
    await execute(
      this.sequelize,
      `INSERT INTO ${this.s}.outbox (id, type, payload, created_at) VALUES (:id, :type, CAST(:payload AS jsonb), :createdAt)`,
      {
        replacements: {
          id: envelope.id,
          type: envelope.type,
          payload: JSON.stringify(envelope),
          createdAt: envelope.occurredAt,
        },
        transaction,
      },
    );
  }

  /** Several envelopes in one statement, in the caller's transaction. */
  async insertMany(envelopes: EventEnvelope[], transaction?: Transaction): Promise<void> {
    if (envelopes.length === 0) return;
    await execute(
      this.sequelize,
      `INSERT INTO ${this.s}.outbox (id, type, payload, created_at)
       SELECT * FROM unnest(ARRAY[:ids]::uuid[], ARRAY[:types]::text[], ARRAY[:payloads]::jsonb[], ARRAY[:createdAts]::timestamptz[])`,
      {
        replacements: {
          ids: envelopes.map(e => e.id),
          types: envelopes.map(e => e.type),
          payloads: envelopes.map(e => JSON.stringify(e)),
          createdAts: envelopes.map(e => e.occurredAt),
        },
        transaction,
      },
    );
  }

  /**
   * Leases up to `limit` unsent rows to this relay for `leaseMs`. SKIP LOCKED and the
   * lease keep the relays of several nodes from publishing the same row at once; a
   * relay that dies mid-publish only delays its rows until the lease runs out.
   */
  async claim(limit: number, leaseMs: number, skipIds: string[]): Promise<OutboxRow[]> {
    const rows = await selectRows<{ id: string; payload: EventEnvelope | string }>(
      this.sequelize,
      `WITH claimed AS (
         SELECT id FROM ${this.s}.outbox
         WHERE sent_at IS NULL AND parked_at IS NULL
           AND (lease_until IS NULL OR lease_until < now())
           ${skipIds.length > 0 ? "AND NOT (id = ANY(ARRAY[:skipIds]::uuid[]))" : ""}
         ORDER BY id
         LIMIT :limit
         FOR UPDATE SKIP LOCKED
       )
       UPDATE ${this.s}.outbox o
       SET lease_until = now() + (:leaseMs * interval '1 millisecond'), attempts = o.attempts + 1
       FROM claimed WHERE o.id = claimed.id
       RETURNING o.id, o.payload`,
      {
        replacements: { limit, leaseMs, skipIds: skipIds.length > 0 ? skipIds : [""] },
      },
    );
    return rows
      .map(row => ({
        id: row.id,
        payload:
          typeof row.payload === "string"
            ? (JSON.parse(row.payload) as EventEnvelope)
            : row.payload,
      }))
      .sort(inIdOrder);
  }

  /** Keeps rows this relay is still publishing reserved (in-process delivery can take a while). */
  async extendLease(ids: string[], leaseMs: number): Promise<void> {
    if (ids.length === 0) return;
    // Only rows still leased: a row released after a failed publish while the relay still
    // listed it in flight must stay free for the next poll, not be held for a whole lease.
    await execute(
      this.sequelize,
      `UPDATE ${this.s}.outbox SET lease_until = now() + (:leaseMs * interval '1 millisecond')
       WHERE id = ANY(ARRAY[:ids]::uuid[]) AND sent_at IS NULL AND lease_until IS NOT NULL`,
      { replacements: { ids, leaseMs } },
    );
  }

  async markSent(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await execute(
      this.sequelize,
      `UPDATE ${this.s}.outbox SET sent_at = now(), lease_until = NULL, last_error = NULL
       WHERE id = ANY(ARRAY[:ids]::uuid[])`,
      { replacements: { ids } },
    );
  }

  /** A failed publish gives the rows back at once (the next poll retries them). */
  async release(ids: string[], error: string): Promise<void> {
    if (ids.length === 0) return;
    await execute(
      this.sequelize,
      `UPDATE ${this.s}.outbox SET lease_until = NULL, last_error = :error
       WHERE id = ANY(ARRAY[:ids]::uuid[]) AND sent_at IS NULL`,
      { replacements: { ids, error: error.slice(0, 1000) } },
    );
  }

  /**
   * Parks the unsent rows claimed `maxAttempts` times already (each claim is a publish
   * attempt): the relay passes them over from then on. Returns what was parked.
   */
  async parkExhausted(
    maxAttempts: number,
  ): Promise<Array<{ id: string; type: string; lastError: string | null }>> {
    const rows = await selectRows<{
      id: string;
      type: string;
      last_error: string | null;
    }>(
      this.sequelize,
      `UPDATE ${this.s}.outbox SET parked_at = now(), lease_until = NULL
       WHERE sent_at IS NULL AND parked_at IS NULL AND attempts >= :maxAttempts
         AND (lease_until IS NULL OR lease_until < now())
       RETURNING id, type, last_error`,
      { replacements: { maxAttempts } },
    );
    return rows.map(row => ({ id: row.id, type: row.type, lastError: row.last_error }));
  }

  /** Gives parked rows back to the relay with a fresh attempt count. */
  async unpark(limit: number): Promise<number> {
    const rows = await selectRows<{ id: string }>(
      this.sequelize,
      `UPDATE ${this.s}.outbox SET parked_at = NULL, attempts = 0
       WHERE id IN (SELECT id FROM ${this.s}.outbox WHERE parked_at IS NOT NULL AND sent_at IS NULL
                    ORDER BY id LIMIT :limit)
       RETURNING id`,
      { replacements: { limit } },
    );
    return rows.length;
  }

  async parked(): Promise<number> {
    const [row] = await selectRows<{ n: number }>(
      this.sequelize,
      `SELECT count(*)::int AS n FROM ${this.s}.outbox WHERE parked_at IS NOT NULL AND sent_at IS NULL`,
    );
    return row?.n ?? 0;
  }

  /**
   * For an event the broker delivers again: whether `consumer` applied it already and,
   * if not, one more start of its handling recorded (autocommitted before it runs, so a
   * crash in the handler still counts).
   */
  async recordRedelivery(
    consumer: string,
    eventId: string,
  ): Promise<{ applied: boolean; lostStarts: number }> {
    const [row] = await selectRows<{ applied: boolean; starts: number | null }>(
      this.sequelize,
      `WITH applied AS (
         SELECT 1 FROM ${this.s}.processed_events WHERE consumer = :consumer AND event_id = :eventId
       ), counted AS (
         INSERT INTO ${this.s}.delivery_starts (consumer, event_id, starts)
         SELECT :consumer, :eventId, 1 WHERE NOT EXISTS (SELECT 1 FROM applied)
         ON CONFLICT (consumer, event_id)
         DO UPDATE SET starts = ${this.s}.delivery_starts.starts + 1, updated_at = now()
         RETURNING starts
       )
       SELECT EXISTS (SELECT 1 FROM applied) AS applied, (SELECT starts FROM counted) AS starts`,
      { replacements: { consumer, eventId } },
    );
    return { applied: Boolean(row?.applied), lostStarts: row?.starts ?? 0 };
  }

  async addDeadLetter(
    consumer: string,
    dead: { envelope: EventEnvelope; attempts: number; error: string; failedAt: string },
  ): Promise<void> {
    await execute(
      this.sequelize,
      `INSERT INTO ${this.s}.dead_letters (consumer, event_id, payload, attempts, error, failed_at)
       VALUES (:consumer, :eventId, CAST(:payload AS jsonb), :attempts, :error, :failedAt)`,
      {
        replacements: {
          consumer,
          eventId: dead.envelope.id,
          payload: JSON.stringify(dead.envelope),
          attempts: dead.attempts,
          error: dead.error.slice(0, 1000),
          failedAt: dead.failedAt,
        },
      },
    );
  }

  async deadLetters(
    consumer: string,
    limit: number,
  ): Promise<
    Array<{
      id: string;
      envelope: EventEnvelope;
      attempts: number;
      error: string;
      failedAt: string;
    }>
  > {
    const rows = await selectRows<{
      id: string;
      payload: EventEnvelope | string;
      attempts: number;
      error: string;
      failed_at: Date;
    }>(
      this.sequelize,
      `SELECT id, payload, attempts, error, failed_at FROM ${this.s}.dead_letters
       WHERE consumer = :consumer ORDER BY id LIMIT :limit`,
      { replacements: { consumer, limit } },
    );
    return rows.map(row => ({
      id: String(row.id),
      envelope:
        typeof row.payload === "string" ? (JSON.parse(row.payload) as EventEnvelope) : row.payload,
      attempts: row.attempts,
      error: row.error,
      failedAt: new Date(row.failed_at).toISOString(),
    }));
  }

  async removeDeadLetter(id: string): Promise<void> {
    await execute(this.sequelize, `DELETE FROM ${this.s}.dead_letters WHERE id = :id`, {
      replacements: { id },
    });
  }

  async backlog(): Promise<number> {
    const [row] = await selectRows<{ n: number }>(
      this.sequelize,
      `SELECT count(*)::int AS n FROM ${this.s}.outbox WHERE sent_at IS NULL AND parked_at IS NULL`,
    );
    return row?.n ?? 0;
  }

  /** Sent rows are kept a while for inspection, then dropped; processed ids long enough to outlive redeliveries. */
  async prune(sentRetentionMs: number, processedRetentionMs: number): Promise<void> {
    await execute(
      this.sequelize,
      `DELETE FROM ${this.s}.outbox WHERE sent_at IS NOT NULL AND sent_at < now() - (:ms * interval '1 millisecond')`,
      { replacements: { ms: sentRetentionMs } },
    );
    await execute(
      this.sequelize,
      `DELETE FROM ${this.s}.processed_events WHERE processed_at < now() - (:ms * interval '1 millisecond')`,
      { replacements: { ms: processedRetentionMs } },
    );
    await execute(
      this.sequelize,
      `DELETE FROM ${this.s}.delivery_starts WHERE updated_at < now() - (:ms * interval '1 millisecond')`,
      { replacements: { ms: processedRetentionMs } },
    );
  }

  /**
   * `markProcessed` for many events in one statement: the ids newly recorded (the others
   * were processed already, or are being processed by another node that commits first).
   */
  async markProcessedMany(
    consumer: string,
    envelopes: EventEnvelope[],
    transaction: Transaction,
  ): Promise<Set<string>> {
    if (envelopes.length === 0) return new Set();
    const rows = await selectRows<{ event_id: string }>(
      this.sequelize,
      `INSERT INTO ${this.s}.processed_events (consumer, event_id, event_type)
       SELECT :consumer, e.id, e.type FROM unnest(ARRAY[:ids]::uuid[], ARRAY[:types]::text[]) AS e(id, type)
       ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id`,
      {
        replacements: {
          consumer,
          ids: envelopes.map(e => e.id),
          types: envelopes.map(e => e.type),
        },
        transaction,
      },
    );
    return new Set(rows.map(row => row.event_id.toLowerCase()));
  }

  /**
   * Records that `consumer` handles `envelope` inside `transaction`. False: it already
   * did (or another node is doing it right now and will commit first), so skip it.
   */
  async markProcessed(
    consumer: string,
    envelope: EventEnvelope,
    transaction: Transaction,
  ): Promise<boolean> {
    const rows = await selectRows<{ event_id: string }>(
      this.sequelize,
      `INSERT INTO ${this.s}.processed_events (consumer, event_id, event_type) VALUES (:consumer, :id, :type)
       ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id`,
      {
        replacements: { consumer, id: envelope.id, type: envelope.type },
        transaction,
      },
    );
    return rows.length > 0;
  }

  /**
   * Forgets that `consumer` handled these events, inside the batch `transaction` that
   * recorded them: their handlers failed (and were rolled back to their savepoints), so a
   * redelivery must run them again.
   */
  async unmarkProcessed(consumer: string, ids: string[], transaction: Transaction): Promise<void> {
    if (ids.length === 0) return;
    await execute(
      this.sequelize,
      `DELETE FROM ${this.s}.processed_events WHERE consumer = :consumer AND event_id = ANY(ARRAY[:ids]::uuid[])`,
      { replacements: { consumer, ids }, transaction },
    );
  }
}
