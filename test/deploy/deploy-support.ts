import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";
import { METRIC } from "moleculer";
import { CONFIG_VARIABLES, EXTRA_CONFIG_VARIABLES } from "../../lib/config";
import { EVENT_METRICS } from "../../lib/events/metrics";
import { LEARNING_METRICS } from "../../services/progress/learning-metrics";

/** Shared by the deployment suites: the repository root, YAML reading and the external tools. */
const ROOT = path.resolve(__dirname, "..", "..");

export function repoFile(...parts: string[]): string {
  return path.join(ROOT, ...parts);
}

export function readYaml<T = unknown>(file: string): T {
  // merge: docker-compose.yml uses YAML merge keys (<<: *anchor), as Compose itself does.
  return YAML.parse(fs.readFileSync(file, "utf8"), { merge: true }) as T;
}

export function readYamlDocuments(text: string): Record<string, unknown>[] {
  return YAML.parseAllDocuments(text)
    .map(doc => doc.toJS() as Record<string, unknown> | null)
    .filter((doc): doc is Record<string, unknown> => doc !== null);
}

/** Every variable a node reads (lib/config.ts's contract and extras): what a deployment must wire. */
export function variablesNodesRead(): string[] {
  return (
    [...CONFIG_VARIABLES, ...EXTRA_CONFIG_VARIABLES]
      .filter(variable => variable.read)
      .flatMap(variable => variable.names)
      // `OIDC_<ID>_*` names a family (one per provider the operator adds), not one variable.
      .filter(name => !name.includes("<ID>"))
  );
}

export const APP_SERVICES = ["api", "users", "content", "progress", "notify", "billing"] as const;

/** Path of a tool, or a thrown error naming the script that installs it (the suite fails, never skips). */
export function requireTool(name: "promtool" | "kubectl" | "chromium"): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const location = found.stdout.trim();
  if (found.status !== 0 || location === "") {
    throw new Error(
      `${name} is not installed: \`npm test\` installs it before the suites (or run \`sh scripts/test-tools/${name}.sh\`)`,
    );
  }
  return location;
}

export function run(tool: string, args: string[], cwd = ROOT): { ok: boolean; output: string } {
  try {
    const output = execFileSync(tool, args, {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return { ok: true, output };
  } catch (err) {
    const failure = err as { stdout?: string; stderr?: string; message: string };
    return {
      ok: false,
      output: `${failure.stdout ?? ""}${failure.stderr ?? ""}` || failure.message,
    };
  }
}

// Moleculer's own metric names (src/metrics/constants.js, exported as METRIC), as its
// Prometheus reporter writes them (dots and dashes → _).
const MOLECULER_METRICS = new Set(
  Object.entries(METRIC as unknown as Record<string, string>)
    .filter(([key]) => !key.startsWith("TYPE_") && !key.startsWith("UNIT_"))
    .map(([, name]) => name.replace(/[.-]/g, "_")),
);

/**
 * Lingomesh's own metrics, as the reporter names them: the durable events'
 * (lib/events/metrics.ts) and the learning business metrics (services/progress/learning-metrics.ts).
 */
const LINGOMESH_METRICS = new Set(
  [...Object.values(EVENT_METRICS), ...Object.values(LEARNING_METRICS)].map(name =>
    name.replace(/[.-]/g, "_"),
  ),
);

/**
 * Metrics of the other exporters the stack scrapes: RabbitMQ's rabbitmq_prometheus plugin
 * (per-object queue metrics and global counters), Traefik's Prometheus metrics, and
 * Prometheus' own `up`.
 */
const EXTERNAL_METRICS = new Set([
  "up",
  "rabbitmq_queue_messages",
  "rabbitmq_queue_messages_ready",
  "rabbitmq_queue_messages_unacked",
  "rabbitmq_queue_consumers",
  "rabbitmq_global_messages_received_total",
  "rabbitmq_global_messages_acknowledged_total",
  "traefik_service_requests_total",
]);

/** Whether the stack exports a metric of that (Prometheus) name: what rules, dashboards and HPAs may use. */
export function knownMetric(name: string): boolean {
  if (EXTERNAL_METRICS.has(name) || LINGOMESH_METRICS.has(name)) return true;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  return MOLECULER_METRICS.has(name) || MOLECULER_METRICS.has(base);
}
