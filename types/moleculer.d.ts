import type { AppConfig } from "../lib/config";
import type { Role } from "../models/auth.model";
import type { DurableEventHandlers } from "../lib/events/consumer-runner";

// moleculer's d.ts files are `export =` a class merged with a namespace: an augmentation
// adds to that namespace at the top level of `declare module` (a nested `namespace Service`
// block would declare a new, unrelated namespace).
declare module "moleculer/src/service" {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface ActionSchema<TThis> {
    /** Needs an authenticated caller (lib/auth/guard.ts: at the gateway and on the action's node). */
    auth?: boolean;
    /** Any one of these roles admits the caller; "admin" always does (lib/auth/guard.ts). */
    roles?: Role[];
    /** Never routed at the gateway: other services call it over the transporter only. */
    internal?: boolean;
  }
}

declare module "moleculer/src/service-broker" {
  interface BrokerOptions {
    /** The parsed environment contract this node was built from (lib/config.ts). */
    appConfig?: AppConfig;
  }
}

declare module "moleculer/src/service" {
  // An augmentation must repeat the interface's type parameters, used or not.
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  interface ServiceSchema<TSettings, TMethods, TVars, TThis> {
    /** Durable domain events this service consumes (mixins/durable-events.mixin.ts), typed by event type. */
    durableEvents?: DurableEventHandlers<TThis>;
  }
}
