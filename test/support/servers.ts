import net from "node:net";

/**
 * The real servers integration suites talk to, and the line to print when one is
 * down. A suite that needs a server it cannot reach fails with that line; it never
 * passes silently.
 */
export const SERVERS = {
  postgres: {
    url: process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres",
    port: 5432,
    start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
  },
  redis: {
    url: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    port: 6379,
    start:
      'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log',
  },
  rabbitmq: {
    url: process.env.TEST_AMQP_URL ?? "amqp://guest:guest@127.0.0.1:5672",
    port: 5672,
    start: "rabbitmq-server -detached",
  },
  nats: {
    url: process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222",
    port: 4222,
    start:
      "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log",
  },
} as const;

export type ServerName = keyof typeof SERVERS;

function reachable(port: number, host = "127.0.0.1", timeoutMs = 1500): Promise<boolean> {
  return new Promise(resolve => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/** Throws (failing the suite) with the command that starts each missing server. */
export async function requireServers(...names: ServerName[]): Promise<void> {
  const missing: string[] = [];
  for (const name of names) {
    const server = SERVERS[name];
    const url = new URL(server.url);
    if (!(await reachable(Number(url.port) || server.port, url.hostname))) {
      missing.push(`${name} is not reachable at ${url.host}; start it with: ${server.start}`);
    }
  }
  if (missing.length > 0) throw new Error(missing.join("\n"));
}
