import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "pg";
import type { ServiceName } from "../../lib/config";
import { createRunVhost, deleteRunVhost } from "../../test/support/rabbitmq-vhost";
import {
  freePort,
  ROOT,
  runScript,
  startNodeProcess,
  type NodeProcess,
} from "../../test/support/node-process";
import { SERVERS, requireServers } from "../../test/support/servers";
import { startTcpProxy, type TcpProxy } from "../../test/support/tcp-proxy";
import { HttpBalancer } from "./balancer";
import { sleep, waitFor } from "./util";

/**
 * A real multi-process Lingomesh cluster on loopback for the fault drills: one Node
 * process per node (`node --import tsx server.ts` with SERVICES=…), a fresh PostgreSQL
 * database, a unique NAMESPACE / REDIS_PREFIX / AMQP prefix, its own JWT key pair and
 * METRICS_PORT per node. NATS, Redis and RabbitMQ are reached through TCP proxies owned
 * by this process, so a drill can "stop" one of them for this cluster alone without
 * touching the machine's shared server (other suites use it).
 */

const SERVER_TS = path.join(ROOT, "server.ts");

export interface NodeSpec {
  /** Stable name inside the drill run ("api", "progress-2", …). */
  name: string;
  services: ServiceName[];
  env?: Record<string, string>;
}

export interface ClusterNode extends NodeProcess {
  spec: NodeSpec;
  nodeId: string;
  metricsPort: number;
  /** Its own HTTP port, for a gateway behind the cluster's balancer (0 otherwise). */
  httpPort: number;
  /** Whether the process ended without the harness asking it to. */
  unexpectedExit: boolean;
  stopping: boolean;
}

export interface ClusterOptions {
  nodes: NodeSpec[];
  /** Extra environment for every node. */
  env?: Record<string, string>;
  logDir: string;
  /** A RabbitMQ vhost of the cluster's own (deleted at stop) instead of the default one. */
  ownVhost?: boolean;
  /**
   * Gateways on ports of their own behind an HTTP balancer on the cluster's gateway port
   * (bench/chaos/balancer.ts), for several api nodes; otherwise the one api node listens there.
   */
  balanced?: boolean;
}

function portOf(url: string, fallback: number): number {
  return Number(new URL(url).port) || fallback;
}

export class Cluster {
  readonly namespace = `chaos_${crypto.randomBytes(4).toString("hex")}`;
  readonly nodes = new Map<string, ClusterNode>();
  readonly proxies: { nats?: TcpProxy; redis?: TcpProxy; amqp?: TcpProxy } = {};
  databaseUrl = "";
  databaseName = "";
  gatewayPort = 0;
  /** The balancer in front of the gateways when the cluster is `balanced`. */
  balancer?: HttpBalancer;
  /** The cluster's own vhost (`ownVhost`), as an AMQP URL to the broker itself. */
  vhostUrl?: string;
  private baseEnv: Record<string, string> = {};
  private db?: Client;
  private dataDir = "";
  private readonly logDir: string;

  constructor(private readonly opts: ClusterOptions) {
    this.logDir = opts.logDir;
  }

  get apiUrl(): string {
    return `http://127.0.0.1:${this.gatewayPort}/api/v1`;
  }

  get origin(): string {
    return `http://127.0.0.1:${this.gatewayPort}`;
  }

  /** One SQL query on the cluster's database. */
  async sql<R extends Record<string, unknown>>(text: string, params: unknown[] = []): Promise<R[]> {
    if (!this.db) {
      this.db = new Client({ connectionString: this.databaseUrl });
      await this.db.connect();
    }
    const result = await this.db.query<R>(text, params);
    return result.rows;
  }

  async start(): Promise<void> {
    await requireServers("postgres", "redis", "rabbitmq", "nats");
    fs.mkdirSync(this.logDir, { recursive: true });
    this.dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-chaos-"));
    this.databaseName = this.namespace.toLowerCase();
    const admin = new Client({ connectionString: SERVERS.postgres.url });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE "${this.databaseName}"`);
    } finally {
      await admin.end();
    }
    const dbUrl = new URL(SERVERS.postgres.url);
    dbUrl.pathname = `/${this.databaseName}`;
    this.databaseUrl = dbUrl.toString();

    this.proxies.nats = await startTcpProxy({ port: portOf(SERVERS.nats.url, 4222) });
    this.proxies.redis = await startTcpProxy({ port: portOf(SERVERS.redis.url, 6379) });
    this.proxies.amqp = await startTcpProxy({ port: portOf(SERVERS.rabbitmq.url, 5672) });
    if (this.opts.ownVhost) {
      this.vhostUrl = await createRunVhost(SERVERS.rabbitmq.url);
      if (!this.vhostUrl) throw new Error("rabbitmqctl is needed for the cluster's own vhost");
    }
    this.gatewayPort = await freePort();
    if (this.opts.balanced) {
      this.balancer = new HttpBalancer();
      await this.balancer.listen(this.gatewayPort);
    }
    const keys = crypto.generateKeyPairSync("ed25519", {
      privateKeyEncoding: { type: "pkcs8", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    const redisUrl = this.proxies.redis.urlFor(SERVERS.redis.url);
    this.baseEnv = {
      NAMESPACE: this.namespace,
      TRANSPORTER: this.proxies.nats.urlFor(SERVERS.nats.url),
      CACHER: redisUrl,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `${this.namespace}:`,
      DATABASE_URL: this.databaseUrl,
      AMQP_URL: this.proxies.amqp.urlFor(this.vhostUrl ?? SERVERS.rabbitmq.url),
      JWT_PRIVATE_KEY: keys.privateKey,
      JWT_PUBLIC_KEY: keys.publicKey,
      // The drills measure faults, not the per-client budgets: one loopback client sends it all.
      RATE_LIMIT_RPM: "1000000",
      PUBLIC_URL: this.origin,
      DATA_DIR: this.dataDir,
      LOG_LEVEL: process.env.CHAOS_LOG_LEVEL ?? "warn",
      LOG_FORMAT: "json",
      ...this.opts.env,
    };
    await this.runScript(path.join(ROOT, "scripts/seed.ts"));
    // Schema migrations run under an advisory lock, but the first start of every service
    // at once on 2 cores is slow: start the first node of each service, then the rest.
    const first: NodeSpec[] = [];
    const rest: NodeSpec[] = [];
    const seen = new Set<string>();
    for (const spec of this.opts.nodes) {
      const key = spec.services.join(",");
      (seen.has(key) ? rest : first).push(spec);
      seen.add(key);
    }
    await Promise.all(first.map(spec => this.startNode(spec)));
    await Promise.all(rest.map(spec => this.startNode(spec)));
    await this.waitForEndpoints();
  }

  /** Runs a one-off script (the starter-content seed) with the cluster's environment. */
  async runScript(script: string, timeoutMs = 120_000): Promise<void> {
    const { code, output } = await runScript(script, this.baseEnv, timeoutMs);
    if (code !== 0)
      throw new Error(`${path.basename(script)} failed (${code}): ${output.slice(-2000)}`);
  }

  /** Starts (or restarts) a node and waits until its /health/ready answers 200. */
  async startNode(spec: NodeSpec, timeoutMs = 90_000): Promise<ClusterNode> {
    const existing = this.nodes.get(spec.name);
    if (existing && existing.exitInfo === undefined) {
      throw new Error(`node ${spec.name} is still running`);
    }
    const metricsPort = existing?.metricsPort ?? (await freePort());
    const gateway = spec.services.includes("api");
    const httpPort = gateway && this.balancer ? (existing?.httpPort ?? (await freePort())) : 0;
    const nodeId = `${this.namespace}-${spec.name}-${crypto.randomBytes(2).toString("hex")}`;
    const env: Record<string, string> = {
      ...this.baseEnv,
      ...spec.env,
      SERVICES: spec.services.join(","),
      NODE_ID: nodeId,
      METRICS_PORT: String(metricsPort),
      PORT: gateway ? String(httpPort || this.gatewayPort) : "0",
    };
    const log = fs.createWriteStream(path.join(this.logDir, `${spec.name}.log`), { flags: "a" });
    log.write(`--- ${new Date().toISOString()} start ${nodeId}\n`);
    // The log file has it all: keep only a short tail in memory.
    const proc = startNodeProcess(SERVER_TS, { env, log, keepChars: 4_000 });
    const node: ClusterNode = Object.assign(proc, {
      spec,
      nodeId,
      metricsPort,
      httpPort,
      unexpectedExit: false,
      stopping: false,
    });
    void node.exited.then(info => {
      if (!node.stopping) node.unexpectedExit = true;
      log.write(`--- ${new Date().toISOString()} exit ${info}\n`);
    });
    this.nodes.set(spec.name, node);
    const ready = await waitFor(
      async () => node.exitInfo === undefined && (await this.nodeReady(node)),
      timeoutMs,
      200,
      () => node.exitInfo !== undefined,
    );
    if (!ready) {
      throw new Error(
        `node ${spec.name} not ready in ${timeoutMs} ms (exit: ${node.exitInfo ?? "running"}); see ${path.join(this.logDir, `${spec.name}.log`)}`,
      );
    }
    // Readiness before traffic: the balancer sends it requests only from now on.
    if (httpPort) this.balancer?.add(spec.name, httpPort);
    return node;
  }

  async nodeReady(node: ClusterNode): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${node.metricsPort}/health/ready`, {
        signal: AbortSignal.timeout(3000),
      });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  async allReady(): Promise<boolean> {
    const running = [...this.nodes.values()].filter(node => node.exitInfo === undefined);
    const states = await Promise.all(running.map(node => this.nodeReady(node)));
    return states.every(Boolean);
  }

  node(name: string): ClusterNode {
    const node = this.nodes.get(name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  /** kill -9 (no goodbye) or SIGTERM (graceful); resolves once the process is gone. */
  async kill(name: string, signal: "SIGKILL" | "SIGTERM", timeoutMs = 30_000): Promise<string> {
    const node = this.node(name);
    if (node.exitInfo !== undefined) return node.exitInfo;
    node.stopping = true;
    node.child.kill(signal);
    const timer = setTimeout(() => node.child.kill("SIGKILL"), timeoutMs);
    const info = await node.exited;
    clearTimeout(timer);
    // A gateway that is gone takes no more requests (a readiness probe would find out too).
    if (node.httpPort) this.balancer?.leave(node.spec.name);
    return info;
  }

  /** Processes that ended without the harness stopping them (crashes). */
  crashed(): string[] {
    return [...this.nodes.values()]
      .filter(node => node.unexpectedExit)
      .map(node => `${node.spec.name} (${node.exitInfo})`);
  }

  /**
   * Waits until the gateway can route to every service in the cluster (its registry has
   * caught up with the nodes that just started) by probing a public read of each.
   */
  async waitForEndpoints(timeoutMs = 60_000): Promise<void> {
    const ok = await waitFor(
      async () => {
        try {
          const res = await fetch(`${this.apiUrl}/courses?pageSize=1`, {
            signal: AbortSignal.timeout(3000),
          });
          await res.arrayBuffer();
          return res.status === 200 && (await this.allReady());
        } catch {
          return false;
        }
      },
      timeoutMs,
      250,
    );
    if (!ok) throw new Error(`cluster not serving within ${timeoutMs} ms`);
    // The gateway learns about every node over NATS: give INFO packets a moment to land.
    await sleep(1000);
  }

  async stop(): Promise<void> {
    const running = [...this.nodes.values()].filter(node => node.exitInfo === undefined);
    for (const node of running) node.stopping = true;
    // SIGKILL at the end: the drills are over, nothing needs a graceful goodbye.
    for (const node of running) node.child.kill("SIGKILL");
    await Promise.race([Promise.all(running.map(node => node.exited)), sleep(10_000)]);
    await Promise.all(
      Object.values(this.proxies).map(proxy => proxy?.close().catch(() => undefined)),
    );
    await this.balancer?.close().catch(() => undefined);
    await deleteRunVhost(this.vhostUrl);
    await this.db?.end().catch(() => undefined);
    this.db = undefined;
    if (this.databaseName) {
      const admin = new Client({ connectionString: SERVERS.postgres.url });
      try {
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS "${this.databaseName}" WITH (FORCE)`);
      } catch {
        // Best effort: a leftover database has a unique name and harms no one.
      } finally {
        await admin.end().catch(() => undefined);
      }
    }
    if (this.dataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** Kills every node at once, synchronously: for process 'exit' / signal handlers. */
  killAllNow(): void {
    for (const node of this.nodes.values()) {
      if (node.exitInfo === undefined) node.child.kill("SIGKILL");
    }
  }
}
