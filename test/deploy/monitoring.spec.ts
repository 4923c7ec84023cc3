import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { knownMetric, readYaml, repoFile, requireTool, run } from "./deploy-support";

/**
 * Prometheus config and alert rules through promtool (Debian's prometheus package), the
 * rules' behaviour through promtool's rule unit tests, Grafana's provisioning and
 * dashboards, and that every metric they name is one the stack really exports.
 */

const PROMQL_WORDS = new Set([
  "sum",
  "rate",
  "increase",
  "delta",
  "histogram_quantile",
  "topk",
  "max",
  "min",
  "count",
  "avg",
  "by",
  "without",
  "and",
  "or",
  "unless",
  "offset",
  "absent",
  "le",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
]);

/** Metric names in a PromQL expression (label names inside {...} and by (...) are skipped). */
function metricNames(expr: string): string[] {
  const withoutLabels = expr
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(by|without|on|ignoring)\s*\([^)]*\)/g, "")
    .replace(/"[^"]*"/g, "")
    .replace(/\[[^\]]*\]/g, "");
  const words = withoutLabels.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  return words.filter(
    word =>
      !PROMQL_WORDS.has(word) && !/^\d/.test(word) && !word.includes(":") && !/^[smhd]$/.test(word),
  );
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
}
const rulesFile = repoFile("monitoring/prometheus/rules/lingomesh.rules.yml");
const rules = readYaml<{ groups: { rules: Rule[] }[] }>(rulesFile).groups.flatMap(
  group => group.rules,
);

interface Panel {
  title: string;
  datasource: { type: string; uid: string };
  targets: { expr: string; datasource: { uid: string } }[];
}
const dashboardDir = repoFile("monitoring/grafana/dashboards");
const dashboards = fs
  .readdirSync(dashboardDir)
  .filter(file => file.endsWith(".json"))
  .map(file => ({
    file,
    json: JSON.parse(fs.readFileSync(path.join(dashboardDir, file), "utf8")) as {
      uid: string;
      title: string;
      panels: Panel[];
    },
  }));

describe("Prometheus configuration and alert rules (promtool)", () => {
  let promtool: string;
  beforeAll(() => {
    promtool = requireTool("promtool");
  });

  it("when promtool checks the compose Prometheus config, then it and its rule files are valid", () => {
    const result = run(promtool, [
      "check",
      "config",
      repoFile("monitoring/prometheus/prometheus.yml"),
    ]);
    expect(result.output).toContain("SUCCESS");
    expect(result.ok).toBe(true);
  });

  it("when promtool checks the alert rules, then they are valid", () => {
    const result = run(promtool, ["check", "rules", rulesFile]);
    expect(result.ok).toBe(true);
  });

  it("when promtool runs the rule unit tests, then each alert fires on its condition and stays quiet otherwise", () => {
    const result = run(
      promtool,
      ["test", "rules", "lingomesh.rules.test.yml"],
      repoFile("monitoring/prometheus/tests"),
    );
    expect(result.output).toContain("SUCCESS");
    expect(result.ok).toBe(true);
  });

  it("when promtool is given a broken rule, then it fails (the check can fail)", () => {
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "rules-")), "broken.yml");
    fs.writeFileSync(
      broken,
      "groups:\n  - name: x\n    rules:\n      - alert: Broken\n        expr: sum(rate(moleculer_request_total[5m]) > \n",
    );
    expect(run(promtool, ["check", "rules", broken]).ok).toBe(false);
  });

  it("when listing the alerts, then error rate, p99 latency, dead letters, the outbox, consumer groups and a node down are covered", () => {
    const alerts = rules.filter(rule => rule.alert).map(rule => rule.alert);
    for (const name of [
      "LingomeshHighErrorRate",
      "LingomeshHighLatencyP99",
      "LingomeshDeadLetteredEvents",
      "LingomeshDeadLetterGrowing",
      "LingomeshOutboxGrowing",
      "LingomeshOutboxParked",
      "LingomeshConsumerGroupWithoutConsumer",
      "LingomeshNodeDown",
    ]) {
      expect(alerts).toContain(name);
    }
  });

  it("when the scrape config is read, then every service node is discovered by DNS (so scaled replicas are scraped) and RabbitMQ's plugin is scraped", () => {
    const config = readYaml<{
      scrape_configs: {
        job_name: string;
        dns_sd_configs?: { names: string[]; port: number }[];
        static_configs?: { targets: string[] }[];
      }[];
    }>(repoFile("monitoring/prometheus/prometheus.yml"));
    const lingomesh = config.scrape_configs.find(job => job.job_name === "lingomesh");
    expect(lingomesh?.dns_sd_configs?.[0]).toEqual(
      expect.objectContaining({
        names: ["api", "users", "content", "progress", "notify", "billing"],
        port: 3030,
      }),
    );
    const rabbit = config.scrape_configs.find(job => job.job_name === "rabbitmq");
    expect(rabbit?.static_configs?.[0].targets).toEqual(["rabbitmq:15692"]);
  });
});

describe("metric names in alerts and dashboards", () => {
  it("when the metric-name check meets a name Moleculer does not export, then it says so (the check can fail)", () => {
    expect(
      metricNames('sum by (action) (rate(moleculer_requests_total{type="local"}[5m]))'),
    ).toEqual(["moleculer_requests_total"]);
    expect(knownMetric("moleculer_requests_total")).toBe(false);
    expect(knownMetric("moleculer_request_time_bucket")).toBe(true);
  });

  it("when reading every alert and recording rule, then each metric it uses exists", () => {
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      expect(names.length).toBeGreaterThan(0);
      for (const name of names)
        expect({ rule: rule.alert ?? rule.record, name, known: knownMetric(name) }).toEqual(
          expect.objectContaining({ known: true }),
        );
    }
  });

  it("when reading every dashboard panel, then each metric it queries exists", () => {
    for (const { json } of dashboards) {
      for (const panel of json.panels) {
        if (panel.datasource.type !== "prometheus") continue;
        for (const target of panel.targets) {
          for (const name of metricNames(target.expr)) {
            expect({
              dashboard: json.uid,
              panel: panel.title,
              name,
              known: knownMetric(name),
            }).toEqual(expect.objectContaining({ known: true }));
          }
        }
      }
    }
  });
});

describe("Grafana provisioning and dashboards", () => {
  const datasources = readYaml<{ datasources: { uid: string; type: string; url: string }[] }>(
    repoFile("monitoring/grafana/provisioning/datasources/datasources.yml"),
  ).datasources;
  const uids = new Set(datasources.map(source => source.uid));

  it("when the data sources are provisioned, then Prometheus and Loki have fixed uids pointing at the compose services", () => {
    expect(datasources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          uid: "prometheus",
          type: "prometheus",
          url: "http://prometheus:9090",
        }),
        expect.objectContaining({ uid: "loki", type: "loki", url: "http://loki:3100" }),
      ]),
    );
  });

  it("when the dashboards are loaded, then each is valid JSON with a unique uid and every panel uses a provisioned data source", () => {
    expect(dashboards.length).toBeGreaterThanOrEqual(3);
    expect(new Set(dashboards.map(d => d.json.uid)).size).toBe(dashboards.length);
    for (const { json } of dashboards) {
      expect(json.panels.length).toBeGreaterThan(0);
      for (const panel of json.panels) {
        expect(uids.has(panel.datasource.uid)).toBe(true);
        for (const target of panel.targets) expect(uids.has(target.datasource.uid)).toBe(true);
      }
    }
  });

  it("when looking for the required views, then requests, latency percentiles, errors by route, action latency by service, queue depth, dead letters and Node process panels exist", () => {
    const exprs = dashboards.flatMap(d =>
      d.json.panels.flatMap(panel => panel.targets.map(target => target.expr)),
    );
    const has = (pattern: RegExp) => exprs.some(expr => pattern.test(expr));
    expect(has(/rate\(moleculer_request_total\{[^}]*caller="api"/)).toBe(true);
    expect(
      has(/histogram_quantile\(0\.99, sum by \(le\) \(rate\(moleculer_request_time_bucket/),
    ).toBe(true);
    expect(has(/histogram_quantile\(0\.50,/)).toBe(true);
    expect(has(/sum by \(action, errorCode\) \(rate\(moleculer_request_error_total/)).toBe(true);
    expect(has(/sum by \(service, le\) \(rate\(moleculer_request_time_bucket/)).toBe(true);
    expect(has(/rabbitmq_queue_messages_ready/)).toBe(true);
    expect(has(/rabbitmq_queue_messages\{queue=~"\(\?i\)\.\*\(dlq\|dead\)\.\*"\}/)).toBe(true);
    expect(has(/process_memory_heap_size_used/)).toBe(true);
  });

  it("when the Learning dashboard is loaded, then it charts the business metrics: active learners, enrolments, completions, answers correct of total and mail outcomes", () => {
    const learning = dashboards.find(d => d.json.uid === "lingomesh-learning");
    expect(learning?.json.title).toBe("Lingomesh — Learning");
    const named = new Set(
      (learning?.json.panels ?? []).flatMap(panel =>
        panel.targets.flatMap(target => metricNames(target.expr)),
      ),
    );
    for (const name of [
      "lingomesh_learning_active_learners",
      "lingomesh_learning_enrolments_total",
      "lingomesh_learning_registrations_total",
      "lingomesh_learning_lesson_completions_total",
      "lingomesh_learning_course_completions_total",
      "lingomesh_learning_attempts_total",
      "lingomesh_learning_answers_total",
      "lingomesh_learning_answers_correct_total",
      "lingomesh_mail_outcomes_total",
    ])
      expect(named).toContain(name);
  });

  it("when compose starts Grafana, then it mounts the provisioning and the dashboards where the provider looks", () => {
    const provider = readYaml<{ providers: { options: { path: string } }[] }>(
      repoFile("monitoring/grafana/provisioning/dashboards/dashboards.yml"),
    );
    const compose = readYaml<{ services: Record<string, { volumes?: string[] }> }>(
      repoFile("docker-compose.yml"),
    );
    const volumes = compose.services.grafana.volumes ?? [];
    expect(volumes).toContain(
      `./monitoring/grafana/dashboards:${provider.providers[0].options.path}:ro`,
    );
    expect(volumes).toContain("./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro");
  });
});

describe("Traefik, Loki and Promtail configuration", () => {
  it("when Traefik routes, then the API and health routes go to the gateway over TLS with the edge rate limit, and /metrics is not routed", () => {
    const dynamic = readYaml<{
      http: {
        routers: Record<
          string,
          { rule: string; service: string; middlewares: string[]; tls?: unknown }
        >;
        middlewares: Record<string, Record<string, unknown>>;
        services: Record<string, { loadBalancer: { servers: { url: string }[] } }>;
      };
      tls: { stores: { default: { defaultCertificate: { certFile: string } } } };
    }>(repoFile("monitoring/traefik/dynamic/lingomesh.yml"));
    const router = dynamic.http.routers.api;
    expect(router.rule).toContain("PathPrefix(`/api`)");
    expect(router.rule).not.toContain("/metrics");
    expect(router.tls).toBeDefined();
    for (const middleware of router.middlewares)
      expect(dynamic.http.middlewares[middleware]).toBeDefined();
    expect(router.middlewares.some(name => "rateLimit" in dynamic.http.middlewares[name])).toBe(
      true,
    );
    expect(dynamic.http.services[router.service].loadBalancer.servers).toEqual([
      { url: "http://api:3000" },
    ]);
    expect(dynamic.tls.stores.default.defaultCertificate.certFile).toBe("/certs/local.crt");
  });

  it("when Promtail ships logs, then it pushes to the compose Loki and parses the nodes' JSON lines", () => {
    const promtail = readYaml<{
      clients: { url: string }[];
      scrape_configs: {
        pipeline_stages: Record<string, { stages?: Record<string, unknown>[] }>[];
      }[];
    }>(repoFile("monitoring/promtail/promtail.yml"));
    expect(promtail.clients[0].url).toBe("http://loki:3100/loki/api/v1/push");
    const stages = promtail.scrape_configs[0].pipeline_stages.flatMap(
      stage => stage.match?.stages ?? [],
    );
    expect(stages).toContainEqual({
      json: { expressions: { level: "level", time: "time", service: "service" } },
    });
    const loki = readYaml<{ server: { http_listen_port: number } }>(
      repoFile("monitoring/loki/loki.yml"),
    );
    expect(loki.server.http_listen_port).toBe(3100);
  });
});
