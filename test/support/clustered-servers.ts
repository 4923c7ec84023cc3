import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import { freePort } from "./node-process";

/**
 * Clustered infrastructure of our own, on free loopback ports in a temp dir: a NATS cluster
 * (nats-server processes with routes between them) and a Redis primary with a replica and
 * three Sentinels (redis-server processes). The shared servers on the standard ports are
 * never touched: these processes belong to the test or drill that starts them, which may
 * kill -9 any of them.
 */

const NATS_SERVER = process.env.NATS_SERVER_BIN ?? "/usr/sbin/nats-server";
const REDIS_SERVER = process.env.REDIS_SERVER_BIN ?? "redis-server";

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms));

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}

async function portOpen(port: number): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

interface Managed {
  child: ChildProcess;
  exited: Promise<void>;
}

function launch(command: string, args: string[], logFile: string): Managed {
  const log = fs.openSync(logFile, "a");
  const child = spawn(command, args, { stdio: ["ignore", log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>(resolve => child.once("exit", () => resolve()));
  return { child, exited };
}

async function killHard(process: Managed | undefined): Promise<void> {
  if (!process || process.child.exitCode !== null || process.child.signalCode !== null) return;
  process.child.kill("SIGKILL");
  await process.exited;
}

export interface NatsNode {
  index: number;
  clientPort: number;
  routePort: number;
  monitorPort: number;
  url: string;
}

/** Three (or `size`) nats-server processes forming one cluster through routes. */
export class NatsCluster {
  readonly nodes: NatsNode[] = [];
  private readonly processes = new Map<number, Managed>();
  private dir = "";

  constructor(private readonly size = 3) {}

  /** TRANSPORTER for a Lingomesh node: every server of the cluster. */
  get transporterUrl(): string {
    return this.nodes.map(node => node.url).join(",");
  }

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-nats-cluster-"));
    for (let index = 0; index < this.size; index++) {
      const [clientPort, routePort, monitorPort] = [
        await freePort(),
        await freePort(),
        await freePort(),
      ];
      this.nodes.push({
        index,
        clientPort,
        routePort,
        monitorPort,
        url: `nats://127.0.0.1:${clientPort}`,
      });
    }
    await Promise.all(this.nodes.map(node => this.startNode(node.index)));
    await this.waitForRoutes();
  }

  async startNode(index: number): Promise<void> {
    const node = this.nodes[index];
    const routes = this.nodes
      .filter(other => other.index !== index)
      .map(other => `nats://127.0.0.1:${other.routePort}`)
      .join(",");
    const process = launch(
      NATS_SERVER,
      [
        "-a",
        "127.0.0.1",
        "-p",
        String(node.clientPort),
        "-m",
        String(node.monitorPort),
        "--cluster_name",
        "lingomesh",
        "--cluster",
        `nats://127.0.0.1:${node.routePort}`,
        "--routes",
        routes,
        "--no_advertise",
      ],
      path.join(this.dir, `nats-${index}.log`),
    );
    this.processes.set(index, process);
    await until(`nats-server ${index} listening`, () => portOpen(node.clientPort), 15_000);
  }

  /** Every running server sees a route to every other running server. */
  async waitForRoutes(timeoutMs = 20_000): Promise<void> {
    const running = this.nodes.filter(node => this.running(node.index));
    await until(
      "NATS cluster routes",
      async () => {
        const counts = await Promise.all(
          running.map(async node => {
            const res = await fetch(`http://127.0.0.1:${node.monitorPort}/routez`);
            return ((await res.json()) as { num_routes: number }).num_routes;
          }),
        );
        return counts.every(count => count >= running.length - 1);
      },
      timeoutMs,
    );
  }

  running(index: number): boolean {
    const process = this.processes.get(index);
    return Boolean(process && process.child.exitCode === null && process.child.signalCode === null);
  }

  async kill(index: number): Promise<void> {
    await killHard(this.processes.get(index));
  }

  /** The index of the server the NATS client named `clientName` is connected to, if any. */
  async serverOf(clientName: string): Promise<number | undefined> {
    for (const node of this.nodes) {
      if (!this.running(node.index)) continue;
      const res = await fetch(`http://127.0.0.1:${node.monitorPort}/connz?limit=1024`);
      const connz = (await res.json()) as { connections?: Array<{ name?: string }> };
      if ((connz.connections ?? []).some(conn => conn.name === clientName)) return node.index;
    }
    return undefined;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.processes.values()].map(killHard));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** For process 'exit' handlers: no server outlives its owner. */
  killAllNow(): void {
    for (const process of this.processes.values()) process.child.kill("SIGKILL");
  }
}

const SENTINEL_PRIMARY_NAME = "lingomesh";

interface RedisNode {
  port: number;
  process?: Managed;
}

/** A Redis primary, a replica and three Sentinels watching them (quorum 2). */
export class RedisSentinelGroup {
  readonly data: RedisNode[] = [];
  readonly sentinels: RedisNode[] = [];
  private dir = "";

  /** REDIS_URL / CACHER for a Lingomesh node. */
  get url(): string {
    const hosts = this.sentinels.map(sentinel => `127.0.0.1:${sentinel.port}`).join(",");
    return `redis-sentinel://${hosts}/${SENTINEL_PRIMARY_NAME}`;
  }

  /**
   * A primary, its replica and three Sentinels that agree on one primary and see each other.
   * On a loaded machine a Sentinel may fail over before the others join (down-after is 1 s, so
   * the drills fail over fast), or a port picked free may be taken before the process binds it:
   * so any data node they agree on will do, and a group that does not settle is started once
   * more on new ports. A second failure says what each Sentinel saw and logged.
   */
  async start(): Promise<void> {
    try {
      await this.startOnce();
    } catch {
      await this.stop();
      await this.startOnce();
    }
  }

  private async startOnce(): Promise<void> {
    this.data.length = 0;
    this.sentinels.length = 0;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-redis-sentinel-"));
    for (let i = 0; i < 2; i++) this.data.push({ port: await freePort() });
    for (let i = 0; i < 3; i++) this.sentinels.push({ port: await freePort() });
    this.startData(0);
    await until("redis primary", () => portOpen(this.data[0].port), 15_000);
    this.startData(1, this.data[0].port);
    await this.waitForReplication(this.data[0].port, this.data[1].port);
    for (let i = 0; i < this.sentinels.length; i++) this.startSentinel(i);
    const dataPorts = this.data.map(node => node.port);
    let views: { primaryPort: number; otherSentinels: number }[] = [];
    try {
      await until(
        "Sentinels agreeing on the primary and seeing each other",
        async () => {
          views = await Promise.all(
            this.sentinels.map((_, i) =>
              this.sentinelView(i).catch(() => ({ primaryPort: 0, otherSentinels: 0 })),
            ),
          );
          const primary = views[0].primaryPort;
          return (
            dataPorts.includes(primary) &&
            views.every(view => view.primaryPort === primary && view.otherSentinels >= 2)
          );
        },
        30_000,
      );
    } catch (err) {
      const said = views
        .map(
          (view, i) =>
            `Sentinel ${i} names ${view.primaryPort || "nothing"}, sees ${view.otherSentinels}`,
        )
        .join("; ");
      throw new Error(
        `${(err as Error).message} (data nodes ${dataPorts.join(", ")}; ${said})\n${this.sentinelLogs()}`,
      );
    }
  }

  private startData(index: number, replicaOf?: number): void {
    const node = this.data[index];
    const args = [
      "--port",
      String(node.port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--dir",
      this.dir,
      "--dbfilename",
      `dump-${index}.rdb`,
      "--repl-diskless-sync",
      "yes",
      "--repl-diskless-sync-delay",
      "0",
    ];
    if (replicaOf !== undefined) args.push("--replicaof", "127.0.0.1", String(replicaOf));
    node.process = launch(REDIS_SERVER, args, path.join(this.dir, `redis-${index}.log`));
  }

  private startSentinel(index: number): void {
    const node = this.sentinels[index];
    const file = path.join(this.dir, `sentinel-${index}.conf`);
    fs.writeFileSync(
      file,
      [
        `port ${node.port}`,
        "bind 127.0.0.1",
        `dir ${this.dir}`,
        `sentinel monitor ${SENTINEL_PRIMARY_NAME} 127.0.0.1 ${this.data[0].port} 2`,
        `sentinel down-after-milliseconds ${SENTINEL_PRIMARY_NAME} 1000`,
        `sentinel failover-timeout ${SENTINEL_PRIMARY_NAME} 5000`,
        `sentinel parallel-syncs ${SENTINEL_PRIMARY_NAME} 1`,
        "",
      ].join("\n"),
    );
    node.process = launch(
      REDIS_SERVER,
      [file, "--sentinel"],
      path.join(this.dir, `sentinel-${index}.log`),
    );
  }

  private async withClient<T>(port: number, fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis({
      host: "127.0.0.1",
      port,
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      connectTimeout: 1000,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }

  private async sentinelView(
    index: number,
  ): Promise<{ primaryPort: number; otherSentinels: number }> {
    return this.withClient(this.sentinels[index].port, async client => {
      const addr = (await client.call(
        "SENTINEL",
        "get-master-addr-by-name",
        SENTINEL_PRIMARY_NAME,
      )) as [string, string] | null;
      const others = (await client.call(
        "SENTINEL",
        "sentinels",
        SENTINEL_PRIMARY_NAME,
      )) as unknown[];
      return { primaryPort: addr ? Number(addr[1]) : 0, otherSentinels: others.length };
    });
  }

  private async waitForReplication(primary: number, replica: number): Promise<void> {
    await until(
      `replica ${replica} in sync with ${primary}`,
      () =>
        this.withClient(replica, async client => {
          const info = await client.info("replication");
          return /master_link_status:up/.test(info) && info.includes(`master_port:${primary}`);
        }),
      30_000,
    );
  }

  /** The port of the primary as the Sentinels see it now. */
  async primaryPort(): Promise<number> {
    for (let i = 0; i < this.sentinels.length; i++) {
      try {
        const view = await this.sentinelView(i);
        if (view.primaryPort) return view.primaryPort;
      } catch {
        // try the next Sentinel
      }
    }
    throw new Error("no Sentinel answers");
  }

  /**
   * kill -9 the current primary; resolves once every Sentinel names the same other primary.
   * One Sentinel's word is not enough: a client asks whichever answers first, and a Sentinel
   * still naming the dead primary keeps it knocking there.
   */
  async killPrimary(): Promise<{ killed: number; promoted: number }> {
    const killed = await this.primaryPort();
    const node = this.data.find(candidate => candidate.port === killed);
    await killHard(node?.process);
    let promoted = killed;
    let views: number[] = [];
    try {
      await until(
        "Sentinel failover",
        async () => {
          views = await Promise.all(
            this.sentinels.map((_, i) =>
              this.sentinelView(i).then(
                view => view.primaryPort,
                () => 0,
              ),
            ),
          );
          promoted = views[0];
          return promoted !== killed && promoted !== 0 && views.every(port => port === promoted);
        },
        60_000,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${this.failoverReport(killed, views)}`);
    }
    return { killed, promoted };
  }

  /** Every data node running again: one killed by an earlier test comes back as a replica. */
  async restoreAll(): Promise<void> {
    for (const node of this.data) {
      if (node.process && node.process.child.exitCode === null && !node.process.child.signalCode)
        continue;
      await this.restartAsReplica(node.port);
    }
  }

  private failoverReport(killed: number, views: number[]): string {
    const said = views.map((port, i) => `Sentinel ${i} names ${port || "nothing"}`).join(", ");
    return `primary ${killed} killed; ${said}\n${this.sentinelLogs()}`;
  }

  private sentinelLogs(): string {
    return this.sentinels
      .map((_, i) => {
        const file = path.join(this.dir, `sentinel-${i}.log`);
        const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : [];
        return `sentinel ${i}:\n${lines.slice(-8).join("\n")}`;
      })
      .join("\n");
  }

  /** Starts a killed data node again; the Sentinels reconfigure it as a replica of the primary. */
  async restartAsReplica(port: number): Promise<void> {
    const index = this.data.findIndex(candidate => candidate.port === port);
    const primary = await this.primaryPort();
    this.startData(index, primary);
    await this.waitForReplication(primary, port);
  }

  /** A client straight to the current primary (for checks, not through Sentinel). */
  async onPrimary<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    return this.withClient(await this.primaryPort(), fn);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, ...this.data].map(node => killHard(node.process)));
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  killAllNow(): void {
    for (const node of [...this.sentinels, ...this.data]) node.process?.child.kill("SIGKILL");
  }
}
