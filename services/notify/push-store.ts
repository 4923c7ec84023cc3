import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";

/**
 * Web Push subscriptions (one per browser or device) and the pushes queued for them: a push
 * is queued in the transaction of the event that caused it, once per (event, subscription),
 * and the push sender delivers it (services/notify/push-sender.ts).
 */

export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export interface PushPayload {
  id: string;
  kind: string;
  title: string;
  body: string;
  link: string | null;
}

export interface PushDeliveryRow {
  id: string;
  subscription_id: string;
  endpoint: string;
  p256dh: string;
  auth: string;
  payload: PushPayload;
  urgency: "very-low" | "low" | "normal" | "high";
  ttl_seconds: number;
  attempts: number;
}

export class PushStore {
  private readonly s: string;

  constructor(
    private readonly sequelize: Sequelize,
    schema: string,
  ) {
    this.s = `"${schema}"`;
  }

  /**
   * The id of the user's subscription for this endpoint. A browser subscribes once per push
   * service endpoint: one signed in as someone else takes the endpoint over (keys and all).
   */
  async subscribe(id: string, userId: string, sub: PushSubscriptionInput): Promise<string> {
    const rows = await selectRows<{ id: string }>(
      this.sequelize,
      `INSERT INTO ${this.s}.push_subscriptions (id, user_id, endpoint, p256dh, auth)
       SELECT :id, :userId, :endpoint, :p256dh, :auth
        WHERE NOT EXISTS (SELECT 1 FROM ${this.s}.erased_users e WHERE e.user_id = :userId)
       ON CONFLICT (endpoint) DO UPDATE SET user_id = EXCLUDED.user_id, p256dh = EXCLUDED.p256dh,
         auth = EXCLUDED.auth, created_at = now()
       RETURNING id`,
      { replacements: { id, userId, endpoint: sub.endpoint, ...sub.keys } },
    );
    return rows[0]?.id ?? id;
  }

  /** False when the user holds no such subscription (someone else's answers the same). */
  async unsubscribe(userId: string, id: string): Promise<boolean> {
    const removed = await execute(
      this.sequelize,
      `DELETE FROM ${this.s}.push_subscriptions WHERE id = :id AND user_id = :userId`,
      { replacements: { id, userId } },
    );
    return removed > 0;
  }

  /** Queues one push per subscription of the user; a second run for the event queues nothing. */
  async queue(
    userId: string,
    eventId: string,
    push: {
      payload: PushPayload;
      urgency: PushDeliveryRow["urgency"];
      ttlSeconds: number;
      /** Held until then (the end of the user's quiet hours); null: due now. */
      notBefore: Date | null;
    },
    t: Transaction,
  ): Promise<number> {
    return execute(
      this.sequelize,
      `INSERT INTO ${this.s}.push_deliveries (id, event_id, subscription_id, user_id, payload, urgency, ttl_seconds, next_attempt_at)
       SELECT gen_random_uuid(), :eventId, s.id, s.user_id, CAST(:payload AS jsonb), :urgency, :ttlSeconds,
              COALESCE(CAST(:notBefore AS timestamptz), now())
         FROM ${this.s}.push_subscriptions s WHERE s.user_id = :userId
       ON CONFLICT (event_id, subscription_id) DO NOTHING`,
      {
        replacements: {
          userId,
          eventId,
          payload: JSON.stringify(push.payload),
          urgency: push.urgency,
          ttlSeconds: push.ttlSeconds,
          notBefore: push.notBefore,
        },
        transaction: t,
      },
    );
  }

  async claimDue(node: string, limit: number, leaseMs: number): Promise<PushDeliveryRow[]> {
    return selectRows<PushDeliveryRow>(
      this.sequelize,
      `WITH claimed AS (
         UPDATE ${this.s}.push_deliveries SET status = 'sending', claimed_by = :node,
           claim_expires_at = now() + make_interval(secs => :leaseSeconds), attempts = attempts + 1
          WHERE id IN (
            SELECT id FROM ${this.s}.push_deliveries
             WHERE (status = 'queued' AND next_attempt_at <= now()) OR (status = 'sending' AND claim_expires_at < now())
             ORDER BY next_attempt_at, id LIMIT :limit FOR UPDATE SKIP LOCKED)
         RETURNING *)
       SELECT c.id, c.subscription_id, s.endpoint, s.p256dh, s.auth, c.payload, c.urgency, c.ttl_seconds, c.attempts
         FROM claimed c JOIN ${this.s}.push_subscriptions s ON s.id = c.subscription_id`,
      { replacements: { node, limit, leaseSeconds: leaseMs / 1000 } },
    );
  }

  async recordSent(id: string, node: string, status: number): Promise<void> {
    await this.finish(id, node, "sent", `push service answered ${status}`);
  }

  async recordFailed(id: string, node: string, reason: string): Promise<void> {
    await this.finish(id, node, "failed", reason);
  }

  async recordRetry(id: string, node: string, reason: string, delayMs: number): Promise<void> {
    await execute(
      this.sequelize,
      `UPDATE ${this.s}.push_deliveries SET status = 'queued', last_error = :reason, claimed_by = NULL,
         claim_expires_at = NULL, next_attempt_at = now() + make_interval(secs => :delaySeconds)
       WHERE id = :id AND claimed_by = :node`,
      { replacements: { id, node, reason, delaySeconds: delayMs / 1000 } },
    );
  }

  /** The push service forgot the subscription (404/410): it goes, with what was queued for it. */
  async dropSubscription(subscriptionId: string): Promise<void> {
    const replacements = { subscriptionId };
    await execute(
      this.sequelize,
      `UPDATE ${this.s}.push_deliveries SET status = 'gone', claimed_by = NULL, claim_expires_at = NULL,
         finished_at = now()
        WHERE subscription_id = :subscriptionId AND status IN ('queued', 'sending')`,
      { replacements },
    );
    await execute(
      this.sequelize,
      `DELETE FROM ${this.s}.push_subscriptions WHERE id = :subscriptionId`,
      { replacements },
    );
  }

  private async finish(id: string, node: string, status: string, note: string): Promise<void> {
    await execute(
      this.sequelize,
      `UPDATE ${this.s}.push_deliveries SET status = :status, last_error = :note, claimed_by = NULL,
         claim_expires_at = NULL, finished_at = now()
       WHERE id = :id AND claimed_by = :node`,
      { replacements: { id, node, status, note } },
    );
  }
}
