import type { Logger } from "moleculer";
import webpush from "web-push";
import { DeliveryLoop, retryDelay } from "./delivery-loop";
import type { PushDeliveryRow, PushStore } from "./push-store";
import type { SenderOptions } from "./sender";
import type { VapidKeys } from "./vapid";

/**
 * Delivers queued pushes: the payload encrypted for the subscription (RFC 8291, aes128gcm),
 * signed with VAPID (RFC 8292), with its TTL and Urgency. A push service that answers 404 or
 * 410 has forgotten the subscription: it is removed. 429, 5xx and unreachable services are
 * retried with back-off like mail; other refusals fail the push (recorded with the answer).
 */

type PushOptions = Pick<
  SenderOptions,
  "nodeId" | "pollMs" | "batchSize" | "baseDelayMs" | "maxDelayMs" | "maxAttempts" | "leaseMs"
>;

const TIMEOUT_MS = 10_000;

export class PushSender extends DeliveryLoop<PushDeliveryRow> {
  constructor(
    private readonly store: PushStore,
    private readonly vapid: VapidKeys,
    private readonly opts: PushOptions,
    logger: Logger,
  ) {
    super(opts, "Push sender", logger);
  }

  protected claim(): Promise<PushDeliveryRow[]> {
    return this.store.claimDue(this.opts.nodeId, this.opts.batchSize, this.opts.leaseMs);
  }

  protected async deliver(push: PushDeliveryRow): Promise<void> {
    // web-push encrypts and signs; the request goes out through fetch, which also speaks the
    // plain http of a loopback test double (PUSH_ALLOW_HTTP) where web-push's own client is https only.
    const request = webpush.generateRequestDetails(
      { endpoint: push.endpoint, keys: { p256dh: push.p256dh, auth: push.auth } },
      JSON.stringify(push.payload),
      {
        vapidDetails: this.vapid,
        TTL: push.ttl_seconds,
        urgency: push.urgency,
        contentEncoding: "aes128gcm",
      },
    );
    let status: number | undefined;
    let reason: string;
    try {
      const res = await fetch(request.endpoint, {
        method: request.method,
        headers: Object.fromEntries(
          Object.entries(request.headers).map(([name, value]) => [name, String(value)]),
        ),
        body: new Uint8Array(request.body),
        redirect: "manual",
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await res.arrayBuffer();
      status = res.status;
      reason = `push service answered ${status}`;
    } catch (err) {
      reason = `unreachable: ${(err as Error).message}`;
    }
    if (status !== undefined && status >= 200 && status < 300) {
      await this.store.recordSent(push.id, this.opts.nodeId, status);
      return;
    }
    await this.failed(push, status, reason);
  }

  /** The endpoint names the subscriber's device at the push service: never logged. */
  private async failed(
    push: PushDeliveryRow,
    status: number | undefined,
    reason: string,
  ): Promise<void> {
    if (status === 404 || status === 410) {
      await this.store.dropSubscription(push.subscription_id);
      this.logger.info("Push subscription removed: the push service no longer knows it", {
        subscriptionId: push.subscription_id,
      });
      return;
    }
    const temporary = status === undefined || status === 429 || status >= 500;
    if (temporary && push.attempts < this.opts.maxAttempts) {
      const delay = retryDelay(push.attempts, this.opts.baseDelayMs, this.opts.maxDelayMs);
      await this.store.recordRetry(push.id, this.opts.nodeId, reason, delay);
      return;
    }
    await this.store.recordFailed(push.id, this.opts.nodeId, reason);
    this.logger.warn("Push failed for good", { pushId: push.id, attempts: push.attempts, reason });
  }
}
