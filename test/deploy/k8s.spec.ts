import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { composeEnv } from "../../scripts/compose-env";
import YAML from "yaml";
import { EVENT_CONSUMERS } from "../../models/events.model";
import {
  APP_SERVICES,
  knownMetric,
  readYaml,
  readYamlDocuments,
  repoFile,
  requireTool,
  run,
} from "./deploy-support";

/**
 * Every kustomize overlay builds (`kubectl kustomize`, kustomize v5 inside kubectl), each
 * object validates against the Kubernetes JSON schemas (kubernetes-models), and the
 * objects say what operating the system needs: probes, resources, graceful termination,
 * gateway-only exposure, autoscaling, disruption budgets, network policies.
 */

/* eslint-disable @typescript-eslint/no-explicit-any -- walking free-form manifests */
type KubeObject = Record<string, any>;

const BROKER_SHUTDOWN_TIMEOUT_S = 10;
const INFRA = ["nats", "redis", "postgres", "mongo", "rabbitmq", "minio"];

/** Builds an overlay from a temporary copy of k8s/, with the dev Secret's env file generated. */
function build(overlay: "dev" | "prod"): KubeObject[] {
  const kubectl = requireTool("kubectl");
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-k8s-"));
  try {
    fs.cpSync(repoFile("k8s"), tree, { recursive: true });
    const example = fs.readFileSync(path.join(tree, "overlays/dev/secrets.env.example"), "utf8");
    fs.writeFileSync(path.join(tree, "overlays/dev/secrets.env"), composeEnv(example));
    const result = run(kubectl, ["kustomize", path.join(tree, "overlays", overlay)]);
    if (!result.ok)
      throw new Error(`kubectl kustomize k8s/overlays/${overlay} failed:\n${result.output}`);
    return readYamlDocuments(result.output);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
}

/**
 * kustomize folds long base64 Secret values over lines; the API server's (Go) base64 decoder
 * skips line breaks, the schema's "byte" format does not — so unfold before validating.
 */
function asApiServerReads(object: KubeObject): KubeObject {
  if (object.kind !== "Secret" || !object.data) return object;
  const data = Object.fromEntries(
    Object.entries(object.data as Record<string, string>).map(([k, v]) => [
      k,
      v.replace(/\s+/g, ""),
    ]),
  );
  return { ...object, data };
}

function validateAgainstSchemas(objects: KubeObject[]): { object: string; error: string }[] {
  const output = execFileSync(
    process.execPath,
    ["--import", "tsx", path.join(__dirname, "k8s-validate.ts")],
    {
      input: JSON.stringify(objects.map(asApiServerReads)),
      encoding: "utf8",
      cwd: repoFile(),
    },
  );
  return JSON.parse(output) as { object: string; error: string }[];
}

interface AdapterRule {
  seriesQuery: string;
  name: { matches: string; as: string };
}

/** The metric names prometheus-adapter serves from its rules (name.matches → name.as). */
function adapterMetrics(rules: AdapterRule[]): Array<{ series: string; served: string }> {
  return rules.map(rule => {
    const series = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rule.seriesQuery)?.[0] ?? "";
    // The adapter's "${1}" is Go's regexp replacement; JavaScript's is "$1".
    const served = series.replace(
      new RegExp(rule.name.matches),
      rule.name.as.replace(/\$\{(\d+)\}/g, "$$$1"),
    );
    return { series, served };
  });
}

const of = (objects: KubeObject[], kind: string) => objects.filter(object => object.kind === kind);
const named = (objects: KubeObject[], kind: string, name: string) =>
  of(objects, kind).find(o => o.metadata.name === name);

describe.each(["dev", "prod"] as const)("k8s/overlays/%s", overlay => {
  let objects: KubeObject[];
  beforeAll(() => {
    objects = build(overlay);
  }, 60_000);

  it("when built with kustomize, then every object validates against the Kubernetes JSON schemas", () => {
    expect(objects.length).toBeGreaterThan(20);
    expect(validateAgainstSchemas(objects)).toEqual([]);
    for (const object of objects) {
      if (object.kind !== "Namespace") expect(object.metadata.namespace).toBe("lingomesh");
    }
  }, 60_000);

  it("when each service is deployed, then it has probes on the node's health endpoints, resources and graceful termination", () => {
    for (const service of APP_SERVICES) {
      const deployment = named(objects, "Deployment", service);
      expect(deployment).toBeDefined();
      const pod = deployment?.spec.template.spec;
      const container = pod.containers[0];
      expect(container.env).toContainEqual({ name: "SERVICES", value: service });
      expect(container.readinessProbe.httpGet).toEqual({ path: "/health/ready", port: "metrics" });
      expect(container.livenessProbe.httpGet).toEqual({ path: "/health/live", port: "metrics" });
      expect(container.ports).toContainEqual({
        name: "metrics",
        containerPort: 3030,
        protocol: "TCP",
      });
      for (const field of ["requests", "limits"]) {
        expect(container.resources[field].cpu).toBeDefined();
        expect(container.resources[field].memory).toBeDefined();
      }
      const preStopSeconds = Number(container.lifecycle.preStop.exec.command[1]);
      expect(preStopSeconds).toBeGreaterThan(0);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(
        BROKER_SHUTDOWN_TIMEOUT_S + preStopSeconds,
      );
      expect(deployment?.spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      expect(deployment?.spec.template.metadata.annotations["prometheus.io/port"]).toBe("3030");

      // Config and Secret come in by reference, and the references resolve.
      const [configRef, secretRef] = container.envFrom;
      expect(named(objects, "ConfigMap", configRef.configMapRef.name)).toBeDefined();
      if (overlay === "dev")
        expect(named(objects, "Secret", secretRef.secretRef.name)).toBeDefined();
      else expect(secretRef.secretRef.name).toBe("lingomesh-secrets");
    }
  });

  it("when scaling and disruptions are configured, then every service has an HPA and a PDB, and notify scales on its queue depth", () => {
    for (const service of APP_SERVICES) {
      const hpa = named(objects, "HorizontalPodAutoscaler", service);
      expect(hpa?.spec.scaleTargetRef).toEqual({
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: service,
      });
      expect(hpa?.spec.metrics).toContainEqual(
        expect.objectContaining({
          type: "Resource",
          resource: expect.objectContaining({ name: "cpu" }),
        }),
      );
      expect(
        named(objects, "PodDisruptionBudget", service)?.spec.selector.matchLabels[
          "app.kubernetes.io/component"
        ],
      ).toBe(service);
    }
    const notifyMetrics = named(objects, "HorizontalPodAutoscaler", "notify")?.spec.metrics;
    expect(notifyMetrics).toContainEqual(
      expect.objectContaining({
        type: "External",
        external: expect.objectContaining({
          metric: expect.objectContaining({ name: "rabbitmq_queue_messages_ready" }),
        }),
      }),
    );
  });

  it("when the HPAs scale beyond CPU, then each names a metric the adapter's rules serve from a metric the stack exports, and consumers scale on their queue and lag", () => {
    const adapter = named(objects, "ConfigMap", "lingomesh-prometheus-adapter");
    const config = YAML.parse(adapter?.data["config.yaml"] as string) as {
      rules: AdapterRule[];
      externalRules: AdapterRule[];
    };
    const custom = adapterMetrics(config.rules);
    const external = adapterMetrics(config.externalRules);
    for (const { series } of [...custom, ...external])
      expect({ series, exported: knownMetric(series) }).toEqual({ series, exported: true });
    const customNames = new Set(custom.map(metric => metric.served));
    const externalNames = new Set(external.map(metric => metric.served));
    for (const service of APP_SERVICES) {
      const metrics = named(objects, "HorizontalPodAutoscaler", service)?.spec
        .metrics as KubeObject[];
      expect(metrics.some(metric => metric.type !== "Resource")).toBe(true);
      for (const metric of metrics) {
        if (metric.type === "Pods")
          expect({
            service,
            name: metric.pods.metric.name,
            served: customNames.has(metric.pods.metric.name),
          }).toEqual(expect.objectContaining({ served: true }));
        if (metric.type === "External")
          expect({
            service,
            name: metric.external.metric.name,
            served: externalNames.has(metric.external.metric.name),
          }).toEqual(expect.objectContaining({ served: true }));
      }
    }
    for (const service of new Set(Object.values(EVENT_CONSUMERS).flat())) {
      const metrics = named(objects, "HorizontalPodAutoscaler", service)?.spec.metrics;
      expect(metrics).toContainEqual(
        expect.objectContaining({
          type: "External",
          external: expect.objectContaining({
            metric: {
              name: "rabbitmq_queue_messages_ready",
              selector: { matchLabels: { queue: `lingomesh.${service}` } },
            },
          }),
        }),
      );
      expect(metrics).toContainEqual(
        expect.objectContaining({
          type: "Pods",
          pods: expect.objectContaining({
            metric: { name: "lingomesh_events_consumer_age_seconds" },
          }),
        }),
      );
    }
  });

  it("when traffic comes from outside, then only the gateway has a Service that routes to it and an Ingress", () => {
    const appServices = of(objects, "Service").filter(
      s => s.spec.type !== "ExternalName" && s.spec.clusterIP !== "None",
    );
    const routedToApp = appServices.filter(
      s => s.spec.selector?.["app.kubernetes.io/name"] === "lingomesh",
    );
    expect(routedToApp.map(s => s.metadata.name)).toEqual(["api"]);
    const ingresses = of(objects, "Ingress");
    expect(ingresses).toHaveLength(1);
    const backends = ingresses[0].spec.rules.flatMap((rule: KubeObject) =>
      rule.http.paths.map((p: KubeObject) => p.backend.service.name),
    );
    expect(new Set(backends)).toEqual(new Set(["api"]));
    expect(ingresses[0].spec.rules[0].http.paths.map((p: KubeObject) => p.path)).not.toContain(
      "/metrics",
    );
  });

  it("when network policies apply, then ingress is denied by default and only the gateway's HTTP port is opened beyond metrics", () => {
    const policies = of(objects, "NetworkPolicy");
    const denyAll = policies.find(p => Object.keys(p.spec.podSelector).length === 0);
    expect(denyAll?.spec.policyTypes).toEqual(["Ingress"]);
    expect(denyAll?.spec.ingress).toBeUndefined();
    const appPolicies = policies.filter(
      p =>
        p.spec.podSelector.matchLabels?.["app.kubernetes.io/name"] === "lingomesh" ||
        p.spec.podSelector.matchLabels?.["app.kubernetes.io/component"] === "api",
    );
    const openPorts = appPolicies.flatMap(p =>
      p.spec.ingress.flatMap((rule: KubeObject) =>
        rule.ports.map(
          (port: KubeObject) =>
            `${p.spec.podSelector.matchLabels["app.kubernetes.io/component"] ?? "all"}:${port.port}`,
        ),
      ),
    );
    expect(new Set(openPorts)).toEqual(new Set(["api:3000", "all:3030"]));
    // The metrics port is opened to the monitoring namespace only.
    const metrics = appPolicies.find(p => p.metadata.name === "metrics-from-monitoring");
    expect(metrics?.spec.ingress[0].from).toEqual([
      { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
    ]);
  });

  if (overlay === "dev") {
    it("when the dev overlay is built, then the infrastructure runs as StatefulSets with volumes and NATS requires credentials", () => {
      const statefulSets = of(objects, "StatefulSet").map(s => s.metadata.name);
      expect(statefulSets.sort()).toEqual([...INFRA].sort());
      for (const name of INFRA)
        expect(named(objects, "StatefulSet", name)?.spec.volumeClaimTemplates).toHaveLength(1);
      const natsConfig = of(objects, "ConfigMap").find(c =>
        c.metadata.name.startsWith("nats-config"),
      );
      expect(natsConfig?.data["nats.conf"]).toBe(
        fs.readFileSync(repoFile("monitoring/nats/nats.conf"), "utf8"),
      );
      const secret = of(objects, "Secret")[0];
      const transporter = Buffer.from(secret.data.TRANSPORTER, "base64").toString("utf8");
      const password = Buffer.from(secret.data.NATS_PASSWORD, "base64").toString("utf8");
      expect(transporter).toBe(`nats://lingomesh:${password}@nats:4222`);
      expect(named(objects, "Deployment", "mailpit")).toBeDefined();
      expect(named(objects, "Job", "minio-init")).toBeDefined();
    });
  } else {
    it("when the prod overlay is built, then the infrastructure is external endpoints, no secret value is in the manifests, and Prometheus Operator objects carry the alert rules", () => {
      expect(of(objects, "StatefulSet")).toHaveLength(0);
      const external = of(objects, "Service")
        .filter(s => s.spec.type === "ExternalName")
        .map(s => s.metadata.name);
      for (const name of ["nats", "redis", "postgres", "mongo", "rabbitmq"])
        expect(external).toContain(name);
      expect(of(objects, "Secret")).toHaveLength(0);
      const rule = named(objects, "PrometheusRule", "lingomesh");
      const rules = readYaml<{ groups: unknown[] }>(
        repoFile("monitoring/prometheus/rules/lingomesh.rules.yml"),
      );
      expect(rule?.spec.groups).toEqual(rules.groups);
      expect(named(objects, "PodMonitor", "lingomesh")?.spec.podMetricsEndpoints[0].port).toBe(
        "metrics",
      );
    });
  }
});

describe("k8s dev overlay files", () => {
  it("when the dev overlay carries NATS and RabbitMQ config, then it is the same as monitoring/", () => {
    for (const [copy, original] of [
      ["k8s/overlays/dev/nats.conf", "monitoring/nats/nats.conf"],
      ["k8s/overlays/dev/rabbitmq.conf", "monitoring/rabbitmq/rabbitmq.conf"],
      ["k8s/overlays/dev/enabled_plugins", "monitoring/rabbitmq/enabled_plugins"],
    ]) {
      expect(fs.readFileSync(repoFile(copy), "utf8")).toBe(
        fs.readFileSync(repoFile(original), "utf8"),
      );
    }
  });
});
