import type { Context } from "moleculer";
import type { OutboxRelay } from "../../lib/events/relay";
import type { MediaStorage } from "../../lib/storage";
import type { DbServiceThis } from "../../mixins/db.mixin";
import type { DurableEventsMethods } from "../../mixins/durable-events.mixin";
import type { RequestMeta } from "../../models/auth.model";
import type { ContentDeps } from "./deps";
import type { ContentRepository } from "./repository";

/** The content service as its modules see it (`this` of content.service.ts). */

export type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

export interface ContentVars {
  repo: ContentRepository;
  /** Relays the MongoDB store's events (content in MongoDB only). */
  mongoRelay?: OutboxRelay;
  storage: MediaStorage;
  publicUrl: string;
  /** What the use cases are given (built once in `started`). */
  deps: ContentDeps;
}

export interface ContentMethods {
  unitOfWork(): Pick<ContentDeps, "transaction" | "emit">;
  /** Drops the cached reads now on every node, and once more a moment later (see the service). */
  afterChange(ctx?: Pick<Context, "requestID">): Promise<void>;
  seedIfEmpty(): Promise<void>;
}

export type ContentThis = DbServiceThis & DurableEventsMethods & ContentVars & ContentMethods;
