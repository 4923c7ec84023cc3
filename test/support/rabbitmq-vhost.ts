import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const PREFIX = "lingomesh-test-";

/**
 * Every test run gets a RabbitMQ virtual host of its own, deleted at the end: suites declare
 * durable quorum queues per namespace, and a vhost takes all of them away in one step (leaving
 * thousands behind from run to run wedges the broker). Needs `rabbitmqctl` on this machine;
 * without it the run uses the default vhost and each suite's own clean-up.
 */
async function rabbitmqctl(...args: string[]): Promise<string> {
  const { stdout } = await run("rabbitmqctl", ["-q", ...args], { timeout: 60_000 });
  return stdout;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Deletes the vhosts of earlier runs whose jest process is gone (a run that crashed). */
async function deleteStaleVhosts(): Promise<void> {
  const names = (await rabbitmqctl("list_vhosts", "name")).split("\n").map(line => line.trim());
  for (const name of names) {
    const pid = Number(/^lingomesh-test-(\d+)-/.exec(name)?.[1]);
    if (name.startsWith(PREFIX) && Number.isInteger(pid) && !alive(pid)) {
      await rabbitmqctl("delete_vhost", name);
    }
  }
}

/**
 * A vhost named for this process (a later run deletes it if this process died first) on the
 * server of `baseUrl`; its URL, or undefined (with a warning) when rabbitmqctl is unavailable.
 * `staleFirst`: first delete the vhosts of earlier runs whose process is gone.
 */
export async function createRunVhost(
  baseUrl: string,
  staleFirst = true,
): Promise<string | undefined> {
  const name = `${PREFIX}${process.pid}-${Date.now().toString(36)}`;
  try {
    if (staleFirst) await deleteStaleVhosts();
    await rabbitmqctl("add_vhost", name);
    const user = decodeURIComponent(new URL(baseUrl).username || "guest");
    await rabbitmqctl("set_permissions", "-p", name, user, ".*", ".*", ".*");
  } catch (err) {
    console.warn(
      `rabbitmqctl unavailable (${(err as Error).message.split("\n")[0]}): tests use the default vhost`,
    );
    return undefined;
  }
  const url = new URL(baseUrl);
  url.pathname = `/${encodeURIComponent(name)}`;
  return url.toString();
}

export async function deleteRunVhost(url: string | undefined): Promise<void> {
  if (!url) return;
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  if (name.startsWith(PREFIX)) await rabbitmqctl("delete_vhost", name).catch(() => undefined);
}
