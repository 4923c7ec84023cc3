import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { freePort } from "./node-process";

/**
 * A RabbitMQ node of the test's own (rabbitmq-server on free loopback ports, its data, logs
 * and Erlang cookie in a temp dir, no plugins): a resource alarm raised on it blocks only
 * the test's connections, never those of the shared server on :5672 that other suites use.
 */

const RABBITMQ_BIN = process.env.RABBITMQ_BIN_DIR ?? "/usr/lib/rabbitmq/bin";
const run = promisify(execFile);

export class PrivateRabbitMq {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private dir = "";
  private nodeName = "";
  private env: NodeJS.ProcessEnv = {};
  url = "";

  async start(): Promise<void> {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-rabbitmq-"));
    const [port, distPort] = [await freePort(), await freePort()];
    this.nodeName = `lingomesh-${port}@localhost`;
    const home = path.join(this.dir, "home");
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, ".erlang.cookie"), `lingomesh${port}`, { mode: 0o400 });
    fs.writeFileSync(path.join(this.dir, "enabled_plugins"), "[].");
    fs.writeFileSync(
      path.join(this.dir, "rabbitmq.conf"),
      `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`,
    );
    this.env = {
      PATH: process.env.PATH,
      HOME: home,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: path.join(this.dir, "mnesia"),
      RABBITMQ_LOG_BASE: path.join(this.dir, "log"),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(this.dir, "enabled_plugins"),
      RABBITMQ_CONFIG_FILE: path.join(this.dir, "rabbitmq.conf"),
      // A node that dies writes its crash dump here, not into the working directory.
      ERL_CRASH_DUMP: path.join(this.dir, "erl_crash.dump"),
    };
    const log = fs.openSync(path.join(this.dir, "server.log"), "a");
    const child = spawn(path.join(RABBITMQ_BIN, "rabbitmq-server"), [], {
      env: this.env,
      cwd: this.dir,
      stdio: ["ignore", log, log],
    });
    fs.closeSync(log);
    this.child = child;
    this.exited = new Promise(resolve => child.once("exit", () => resolve()));
    // Whatever ends the test process, the broker does not outlive it.
    process.once("exit", this.killOnExit);
    // await_startup fails at once while the node has not registered with epmd yet: ask again.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await this.ctl("await_startup", "--timeout", "60");
        break;
      } catch (err) {
        if (Date.now() > deadline || child.exitCode !== null) {
          await this.stop(false);
          throw new Error(
            `private rabbitmq-server did not start (${(err as Error).message.split("\n")[0]}); its log: ${path.join(this.dir, "server.log")}`,
          );
        }
        await new Promise(resolve => setTimeout(resolve, 500));
      }
    }
    this.url = `amqp://guest:guest@127.0.0.1:${port}`;
  }

  private readonly killOnExit = (): void => {
    this.child?.kill("SIGKILL");
  };

  /** rabbitmqctl against this node only. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run(
      path.join(RABBITMQ_BIN, "rabbitmqctl"),
      ["-q", "-n", this.nodeName, ...args],
      { env: this.env, timeout: 90_000 },
    );
    return stdout;
  }

  /** Stops the node; its temp dir goes too unless `removeDir` is false (a failed start keeps its log). */
  async stop(removeDir = true): Promise<void> {
    process.off("exit", this.killOnExit);
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      // rabbitmq-server is a script: its Erlang VM is told to stop, then the script goes too.
      await this.ctl("stop").catch(() => child.kill("SIGKILL"));
      await this.exited;
    }
    if (this.dir && removeDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
