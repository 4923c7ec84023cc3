import { Service, type Context, type ServiceSchema } from "moleculer";

/**
 * Keeps cached action results of a service fresh on every node.
 *
 * A change calls `clearCache(ctx)`: this node drops `<service>.**` from its cacher at once
 * (so the caller reads its own write, and with Redis the shared cache is clean before the
 * answer), then broadcasts `cache.clean.<service>`; every other node running the service
 * drops the same keys from its cacher (its own memory cache, or Redis again — harmless).
 *
 * A service whose cached results embed another service's data lists that service in
 * `also`: a `cache.clean.<other>` then clears this service's cache too. And any service may
 * tell another to clean: `cleanCacheOf("content")`.
 */

export interface CacheCleanerOptions {
  /** Other services whose `cache.clean.<name>` also clears this service's cached results. */
  also?: readonly string[];
}

/** Payload of `cache.clean.<service>`: the node that already cleaned its own cacher. */
interface CacheCleanPayload {
  origin?: string;
}

export interface CacheCleanerMethods {
  /** Clears this service's cached results on this node now and on every other node. */
  clearCache(ctx?: Caller): Promise<void>;
  /** Clears the cached results of `service` (by name, e.g. "content") on every node. */
  cleanCacheOf(service: string, ctx?: Caller): Promise<void>;
}

function cacheCleanEvent(service: string): string {
  return `cache.clean.${service}`;
}

/** Keys of a service's cached results. `**` because keys hold params that may contain dots. */
function cacheKeyPattern(service: string): string {
  return `${service}.**`;
}

type CleanerThis = Service & CacheCleanerMethods;

async function cleanLocal(service: Service, name: string): Promise<void> {
  await service.broker.cacher?.clean(cacheKeyPattern(name));
}

/** The change's request: the broadcast carries its id. */
type Caller = Pick<Context, "requestID">;

async function announce(service: Service, name: string, ctx?: Caller): Promise<void> {
  const payload: CacheCleanPayload = { origin: service.broker.nodeID };
  await service.broker.broadcast(
    cacheCleanEvent(name),
    payload,
    ctx?.requestID ? { requestID: ctx.requestID } : {},
  );
}

/** A mixin schema that may carry the `merged` hook (missing from moleculer's typings). */
export type MixinSchema = Partial<ServiceSchema> & {
  merged?: (this: Service, schema: ServiceSchema) => void;
};

export function CacheCleaner(opts: CacheCleanerOptions = {}): MixinSchema {
  return {
    merged(this: Service, schema: ServiceSchema) {
      // The service's name is known only now, after all mixins are merged.
      const own = Service.getVersionedFullName(
        schema.name,
        schema.settings?.$noVersionPrefix ? undefined : schema.version,
      );
      const events = (schema.events ??= {}) as Record<string, unknown>;
      const add = (
        event: string,
        handler: (this: CleanerThis, ctx: Context<CacheCleanPayload>) => Promise<void>,
      ) => {
        const existing = events[event];
        if (existing === undefined) {
          events[event] = { handler };
          return;
        }
        // The service handles the event itself too: run both.
        const previous =
          typeof existing === "function"
            ? existing
            : (existing as { handler: (ctx: Context) => unknown }).handler;
        events[event] = {
          ...(typeof existing === "object" ? existing : {}),
          async handler(this: CleanerThis, ctx: Context<CacheCleanPayload>) {
            await handler.call(this, ctx);
            await previous.call(this, ctx);
          },
        };
      };
      add(cacheCleanEvent(own), async function (ctx) {
        // The origin cleaned its own cacher before broadcasting.
        if (ctx.params?.origin === this.broker.nodeID) return;
        await cleanLocal(this, this.fullName);
      });
      for (const other of opts.also ?? []) {
        if (other === own) continue;
        add(cacheCleanEvent(other), async function () {
          await cleanLocal(this, this.fullName);
        });
      }
    },
    methods: {
      async clearCache(this: CleanerThis, ctx?: Caller) {
        await cleanLocal(this, this.fullName);
        await announce(this, this.fullName, ctx);
      },
      async cleanCacheOf(this: CleanerThis, service: string, ctx?: Caller) {
        await cleanLocal(this, service);
        await announce(this, service, ctx);
      },
    },
  };
}
