import type Redis from "ioredis";
import { Cachers, type ServiceBroker } from "moleculer";
import { failFastWhenDown } from "./redis";

/**
 * Moleculer's Redis cacher, made to fail open: while Redis is unreachable a cached action
 * is served by its handler (a cache miss) instead of failing or waiting. Moleculer's own
 * cacher only skips the cache after an "error" event and lets a failed GET fail the call.
 */
export class FailOpenRedisCacher extends Cachers.Redis<Redis> {
  override init(broker: ServiceBroker): void {
    super.init(broker);
    failFastWhenDown(this.client);
    // A dropped connection does not always emit "error"; "ready" sets it back to true.
    this.client.on("close", () => {
      this.connected = false;
    });
  }

  override get(key: string): Promise<Record<string, unknown> | null> {
    if (this.client.status !== "ready") return Promise.resolve(this.opts.missingResponse);
    return super.get(key).catch((err: Error) => {
      this.logger.debug(`cache read skipped: ${err.message}`);
      return this.opts.missingResponse;
    });
  }

  /**
   * Moleculer's close sends QUIT, which needs a live connection: while Redis is away it is
   * refused and ioredis goes on reconnecting, holding the stopped node's process open.
   */
  override async close(): Promise<void> {
    await super.close().catch(() => undefined);
    if (this.client.status !== "end") this.client.disconnect();
  }

  /** Moleculer does not wait for (or catch) the write of a fresh result: it must never reject. */
  override set(key: string, data: unknown, ttl?: number): Promise<void> {
    if (this.client.status !== "ready") return Promise.resolve(undefined);
    return super.set(key, data, ttl).catch((err: Error) => {
      this.logger.debug(`cache write skipped: ${err.message}`);
      return undefined;
    });
  }
}
