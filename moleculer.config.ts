import { Errors, type BrokerOptions } from "moleculer";
import type { MetricsReporter } from "moleculer/src/metrics/registry";
import { redisOptions } from "./lib/redis";
import { FailOpenRedisCacher } from "./lib/redis-cacher";
import { WatchfulNatsTransporter } from "./lib/nats-transporter";
import { config, type AppConfig } from "./lib/config";
import { loggerOptions } from "./lib/logging";
import { OpsReporter } from "./lib/ops-reporter";
import { FastCheckDiscoverer } from "./lib/fast-discoverer";
import { GuardMiddleware } from "./middlewares/guard.middleware";
import { RequestScopeMiddleware } from "./middlewares/request-scope.middleware";

/**
 * Broker options for one node, built from the environment contract (lib/config.ts).
 * The same function serves `npm start`, the REPL node, the tests (which build several
 * nodes with different configs in one process) and the benchmark cluster.
 */

/**
 * A call that provably never reached a handler is safe to repeat, whatever it does. A
 * BrokerDisconnectedError is raised before the request is sent: this node had just lost its
 * NATS server (with a NATS cluster it is back on another one within milliseconds).
 */
function neverReachedHandler(err: Error): boolean {
  return (
    err instanceof Errors.ServiceNotAvailableError ||
    err instanceof Errors.ServiceNotFoundError ||
    err instanceof Errors.BrokerDisconnectedError
  );
}

/** Reads may also be repeated after a timeout or a lost node; actions opt in with `retryPolicy: READ_RETRY`. */
function safeToRepeatRead(err: Error): boolean {
  return (
    neverReachedHandler(err) ||
    err instanceof Errors.RequestTimeoutError ||
    (err as Errors.MoleculerError).type === "NODE_IS_UNAVAILABLE" ||
    // Released by our NATS transporter when its connection dropped with the call in flight.
    err instanceof Errors.RequestRejectedError
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
      // Several comma-separated URLs: the servers of one NATS cluster (moleculer splits them).
      url: cfg.transporter,
      // The node's ID as its NATS connection name: `connz` on a NATS server shows who is on it.
      name: cfg.nodeId,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 500,
    });
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
    });
  }
  // clone: a handler that mutates a cached result must not change what the next caller gets.
  return { type: "Memory", options: { ttl: 300, clone: true, maxParamsLength: 120 } };
}

/** An instance, not a name: moleculer accepts any reporter that extends its base class. */
function opsReporter(port: number): MetricsReporter {
  // Cast: metrics/registry.d.ts's MetricsReporter lists only `{type, options}` objects; the
  // runtime (metrics/reporters/index.js resolve) takes a reporter instance too.
  return new OpsReporter({ port }) as unknown as MetricsReporter;
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
      discoverer: new FastCheckDiscoverer(),
    },
    // SIGTERM: refuse new work, wait up to 10 s for in-flight calls, then leave.
    tracking: { enabled: true, shutdownTimeout: 10_000 },
    contextParamsCloning: false,
    maxCallLevel: 20,

    validator: true,
    metrics: {
      enabled: true,
      reporter: cfg.metricsPort > 0 ? [opsReporter(cfg.metricsPort)] : [],
    },
    tracing: tracing(cfg),
    // The guard first: the innermost wrapper, so its refusals are logged inside the request scope.
    middlewares: [GuardMiddleware, RequestScopeMiddleware],
  };
}

// moleculer-runner accepts a function; it is called once the environment is loaded.
