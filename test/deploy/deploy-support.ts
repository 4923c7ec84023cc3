import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import YAML from "yaml";

/** Shared by the deployment suites: the repository root, YAML reading and the external tools. */
export const ROOT = path.resolve(__dirname, "..", "..");

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

/** The variables of shared/design/config.md's table (the env contract every deployment must wire). */
export function configMdVariables(): string[] {
  const file = path.resolve(ROOT, "..", "shared", "design", "config.md");
  if (!fs.existsSync(file))
    throw new Error(`config.md not found at ${file}: shared/ must sit beside the checkout`);
  const names = new Set<string>();
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    const cell = /^\|\s*([A-Z][A-Z0-9_, ]+?)\s*\|/.exec(line)?.[1];
    if (!cell || cell === "variable") continue;
    for (const name of cell.split(",")) names.add(name.trim());
  }
  return [...names];
}

/** Variables beyond config.md's table that lib/config.ts reads. */
export const EXTRA_VARIABLES = [
  "ADMIN_EMAIL",
  "ADMIN_PASSWORD",
  "SESSION_IDLE_DAYS",
  "SESSION_ABSOLUTE_DAYS",
  "TRUSTED_PROXIES",
  "CORS_ORIGINS",
  "TRACING_EXPORTER",
  "REDIS_PREFIX",
  "S3_REGION",
];

export const APP_SERVICES = ["api", "users", "content", "progress", "notify"] as const;

/** Path of a tool, or a thrown error with the line that installs it (the suite fails, never skips). */
export function requireTool(name: "promtool" | "kubectl"): string {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" });
  const location = found.stdout.trim();
  if (found.status !== 0 || location === "") {
    throw new Error(
      `${name} is not installed: run \`bash .ci/deploy-tools.sh\` (it installs promtool and kubectl)`,
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
