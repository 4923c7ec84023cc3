import net from "node:net";
import type { AddressInfo } from "node:net";

/**
 * A TCP proxy in front of a real server, to simulate an outage in a test: connect a
 * client through `port`, then `cut()` (every open connection is destroyed and new ones
 * are refused at once) and `restore()`.
 */
export interface TcpProxy {
  port: number;
  /** `url` with its host and port replaced by the proxy's. */
  urlFor(url: string): string;
  cut(): void;
  restore(): void;
  /** Open client connections through the proxy right now. */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const host = target.host ?? "127.0.0.1";
  const open = new Set<net.Socket>();
  const clients = new Set<net.Socket>();
  let isCut = false;

  const server = net.createServer(client => {
    if (isCut) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host, port: target.port });
    open.add(client);
    open.add(upstream);
    clients.add(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
      clients.delete(client);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>(resolve => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    urlFor(url: string) {
      const parsed = new URL(url);
      parsed.hostname = "127.0.0.1";
      parsed.port = String(port);
      return parsed.toString();
    },
    cut() {
      isCut = true;
      for (const socket of open) socket.destroy();
      open.clear();
      clients.clear();
    },
    restore() {
      isCut = false;
    },
    get connections() {
      return clients.size;
    },
    close() {
      isCut = true;
      for (const socket of open) socket.destroy();
      open.clear();
      return new Promise<void>(resolve => server.close(() => resolve()));
    },
  };
}
