import { Errors, type BrokerOptions } from "moleculer";
import type { MetricsReporter } from "moleculer/src/metrics/registry";
import type BaseDiscoverer from "moleculer/src/registry/discoverers/base";
import { redisOptions } from "./lib/redis";
import { FailOpenRedisCacher } from "./lib/redis-cacher";
import { WatchfulNatsTransporter } from "./lib/nats-transporter";
import { config, type AppConfig } from "./lib/config";
import { loggerOptions } from "./lib/logging";
import { OpsReporter } from "./lib/ops-reporter";
import { FastCheckDiscoverer } from "./lib/fast-discoverer";
import { RequestScopeMiddleware } from "./middlewares/request-scope.middleware";

/**
 * Broker options for one node, built from the environment contract (lib/config.ts).
 * The same function serves `npm start`, the REPL node, the tests (which build several
 * nodes with different configs in one process) and the benchmark cluster.
 */

/** A call that provably never reached a handler is safe to repeat, whatever it does. */
export function neverReachedHandler(err: Error): boolean {
  return (
    err instanceof Errors.ServiceNotAvailableError || err instanceof Errors.ServiceNotFoundError
  );
}

/** Reads may also be repeated after a timeout or a lost node; actions opt in with `retryPolicy: READ_RETRY`. */
export function safeToRepeatRead(err: Error): boolean {
  return (
    neverReachedHandler(err) ||
    err instanceof Errors.RequestTimeoutError ||
    (err as Errors.MoleculerError).type === "NODE_IS_UNAVAILABLE"
  );
}

export const READ_RETRY = { enabled: true, check: safeToRepeatRead };

function transporter(cfg: AppConfig): BrokerOptions["transporter"] {
  if (!cfg.transporter) return undefined;
  if (cfg.transporter === "Fake") return "Fake";
  if (cfg.transporter.startsWith("nats://")) {
    // Keep reconnecting forever: a NATS restart must not end the process. While it is
    // away, calls fail fast instead of hanging (lib/nats-transporter.ts).
    return new WatchfulNatsTransporter({
      url: cfg.transporter,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    }) as unknown as BrokerOptions["transporter"];
  }
  return cfg.transporter as BrokerOptions["transporter"];
}

function cacher(cfg: AppConfig): BrokerOptions["cacher"] {
  if (cfg.cacher) {
    // Fails open: with Redis unreachable, cached actions run their handlers (lib/redis-cacher.ts).
    return new FailOpenRedisCacher({
      redis: redisOptions(cfg.cacher),
      prefix: `${cfg.redisPrefix}cache`,
      ttl: 300,
      maxParamsLength: 120,
    }) as unknown as BrokerOptions["cacher"];
  }
  // clone: a handler that mutates a cached result must not change what the next caller gets.
  return { type: "Memory", options: { ttl: 300, clone: true, maxParamsLength: 120 } };
}

function tracing(cfg: AppConfig): BrokerOptions["tracing"] {
  if (cfg.tracingExporter === "none") return { enabled: false };
  const type = (
    { console: "Console", jaeger: "Jaeger", zipkin: "Zipkin", event: "Event" } as const
  )[cfg.tracingExporter];
  return { enabled: true, sampling: { rate: 1 }, exporter: [{ type }] };
}

export function brokerOptions(cfg: AppConfig = config()): BrokerOptions & { appConfig: AppConfig } {
  return {
    appConfig: cfg,
    namespace: cfg.namespace,
    nodeID: cfg.nodeId,
    transporter: transporter(cfg),
    cacher: cacher(cfg),
    logger: loggerOptions(cfg),
    logLevel: cfg.logLevel,

    // Ten seconds covers the slowest legitimate call (a login's password hash under load)
    // with room to spare; the gateway answers 504 when it is exceeded.
    requestTimeout: 10_000,
    // Retries only where repeating cannot double-apply (see neverReachedHandler / READ_RETRY).
    retryPolicy: {
      enabled: true,
      retries: 2,
      delay: 100,
      maxDelay: 1000,
      factor: 2,
      check: neverReachedHandler,
    },
    // Open the circuit to an endpoint failing half of at least 20 calls in a minute;
    // only server-side failures of the endpoint count, a 4xx is the caller's problem.
    circuitBreaker: {
      enabled: true,
      threshold: 0.5,
      minRequestCount: 20,
      windowTime: 60,
      halfOpenTime: 10_000,
      // A call this node could not even send (its own transporter is down) says nothing
      // about the endpoint: counting it would keep healthy endpoints shut after NATS returns.
      check: (err: Error) =>
        (err as Errors.MoleculerError).code >= 500 &&
        !(err instanceof Errors.BrokerDisconnectedError),
    },
    // Per action: 64 running, 512 queued; beyond that callers get a QueueIsFullError (503)
    // instead of the node drowning.
    bulkhead: { enabled: true, concurrency: 64, maxQueueSize: 512 },
    // A crashed node stops receiving calls about 4 s after its last heartbeat (checked every
    // second); a live node beats every second, so a 4 s gap means a dead or frozen process.
    heartbeatInterval: 1,
    heartbeatTimeout: 4,
    // Announce services the moment they start (Moleculer debounces this by 1 s otherwise):
    // a node reports ready only once the other nodes can already call it. (A runtime option
    // of service-broker.js that Moleculer's typings lack.)
    transit: { serviceChangedDebounceTime: 0 } as BrokerOptions["transit"],
    registry: {
      strategy: "RoundRobin",
      preferLocal: true,
      discoverer: new FastCheckDiscoverer() as unknown as BaseDiscoverer,
    },
    // SIGTERM: refuse new work, wait up to 10 s for in-flight calls, then leave.
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    contextParamsCloning: false,
    maxCallLevel: 20,

    validator: true,
    metrics: {
      enabled: true,
      // An instance, not a name: moleculer accepts any reporter that extends its base class.
      reporter:
        cfg.metricsPort > 0
          ? [new OpsReporter({ port: cfg.metricsPort }) as unknown as MetricsReporter]
          : [],
    },
    tracing: tracing(cfg),
    middlewares: [RequestScopeMiddleware],
  };
}

// moleculer-runner accepts a function; it is called once the environment is loaded.
export default brokerOptions;
