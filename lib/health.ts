import type { ServerResponse } from "node:http";
import type { ServiceBroker } from "moleculer";

/** Resolves when the dependency answers; rejects (or times out) when it does not. */
export type HealthCheck = () => Promise<unknown>;

export interface ReadinessReport {
  status: "ok" | "fail";
  checks: Record<string, { status: "ok" | "fail"; error?: string }>;
}

const checksByBroker = new WeakMap<ServiceBroker, Map<string, HealthCheck>>();

function checksOf(broker: ServiceBroker): Map<string, HealthCheck> {
  let checks = checksByBroker.get(broker);
  if (!checks) {
    checks = new Map();
    checksByBroker.set(broker, checks);
  }
  return checks;
}

/** A mixin that opens a connection registers how to check it; the name says what it is. */
export function registerHealthCheck(broker: ServiceBroker, name: string, check: HealthCheck): void {
  checksOf(broker).set(name, check);
}

export function unregisterHealthCheck(broker: ServiceBroker, name: string): void {
  checksOf(broker).delete(name);
}

function withTimeout(check: HealthCheck, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    Promise.resolve()
      .then(check)
      .then(
        value => {
          clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
  });
}

/** Ready means every dependency this node uses answers now: transporter, cache, databases, broker. */
export async function readiness(broker: ServiceBroker, timeoutMs = 2000): Promise<ReadinessReport> {
  const checks: Array<[string, HealthCheck]> = [...checksOf(broker).entries()];
  if (broker.transit) {
    const transit = broker.transit;
    checks.push([
      "transporter",
      async () => {
        if (!transit.connected) throw new Error("not connected");
      },
    ]);
  }
  const report: ReadinessReport = { status: "ok", checks: {} };
  await Promise.all(
    checks.map(async ([name, check]) => {
      try {
        await withTimeout(check, timeoutMs);
        report.checks[name] = { status: "ok" };
      } catch (err) {
        report.status = "fail";
        // The message names the failure, never a connection string or credential.
        report.checks[name] = {
          status: "fail",
          error: (err as Error).message.replace(/\/\/[^@\s]*@/g, "//***@"),
        };
      }
    }),
  );
  if (!broker.started || broker.stopping) {
    report.status = "fail";
    report.checks.broker = { status: "fail", error: broker.stopping ? "stopping" : "starting" };
  } else {
    report.checks.broker = { status: "ok" };
  }
  return report;
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "no-store",
  });
  res.end(JSON.stringify(body));
}

/** The answer of `/health/live` and `/health/ready`, on the public port and on METRICS_PORT alike. */
export function sendHealth(
  broker: ServiceBroker,
  probe: "live" | "ready",
  res: ServerResponse,
): void {
  if (probe === "live") return sendJson(res, 200, { status: "ok" });
  readiness(broker).then(
    report => sendJson(res, report.status === "ok" ? 200 : 503, report),
    () => sendJson(res, 503, { status: "fail", checks: {} }),
  );
}
