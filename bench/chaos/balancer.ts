import http from "node:http";
import type { AddressInfo } from "node:net";

interface Backend {
  port: number;
  inFlight: number;
  /** Resolved when `inFlight` drops to 0 (a drain waits for it). */
  idle: Array<() => void>;
}

/** Headers that belong to one hop, not to the request (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
]);

function forwardable(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The load balancer in front of several gateway nodes, as a Kubernetes Service and ingress
 * are in front of the api pods: round robin per request over the gateways in rotation. A
 * gateway joins the rotation once its readiness probe answers (the harness adds it then) and
 * leaves it before it gets SIGTERM (`drain`, what the pod's preStop wait gives the endpoints
 * controller). It repeats nothing: a request its gateway fails is answered 502, as an ingress
 * answers a POST whose upstream dropped it.
 */
export class HttpBalancer {
  private readonly backends = new Map<string, Backend>();
  private rotation: string[] = [];
  private turn = 0;
  private server?: http.Server;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /** Requests answered 502 because the gateway failed them, by cause (`ECONNRESET`…). */
  readonly upstreamErrors: Record<string, number> = {};
  port = 0;

  async listen(port: number): Promise<void> {
    const server = http.createServer((req, res) => this.forward(req, res));
    server.keepAliveTimeout = 30_000;
    this.server = server;
    await new Promise<void>(resolve => server.listen(port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
  }

  /** A gateway that answered its readiness probe: it takes requests from now on. */
  add(name: string, port: number): void {
    this.backends.set(name, { port, inFlight: 0, idle: [] });
    if (!this.rotation.includes(name)) this.rotation.push(name);
  }

  /** Out of the rotation: no new request goes to it. */
  leave(name: string): void {
    this.rotation = this.rotation.filter(other => other !== name);
  }

  /**
   * Out of the rotation at once; resolves when the requests it had in flight have been
   * answered. Returns how many there were.
   */
  async drain(name: string, timeoutMs = 15_000): Promise<number> {
    this.leave(name);
    const backend = this.backends.get(name);
    if (!backend || backend.inFlight === 0) return 0;
    const left = backend.inFlight;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>(resolve => backend.idle.push(resolve)),
      new Promise<void>(resolve => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
    return left;
  }

  /** Requests in flight on the gateway `name` right now. */
  inFlight(name: string): number {
    return this.backends.get(name)?.inFlight ?? 0;
  }

  private pick(): [string, Backend] | undefined {
    if (this.rotation.length === 0) return undefined;
    const name = this.rotation[this.turn++ % this.rotation.length];
    const backend = this.backends.get(name);
    return backend ? [name, backend] : undefined;
  }

  private forward(req: http.IncomingMessage, res: http.ServerResponse): void {
    const picked = this.pick();
    if (!picked) {
      res.writeHead(503, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ error: { code: "NO_GATEWAY", message: "no gateway in rotation" } }));
      return;
    }
    const [, backend] = picked;
    backend.inFlight++;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      backend.inFlight--;
      if (backend.inFlight === 0) for (const resolve of backend.idle.splice(0)) resolve();
    };
    const upstream = http.request(
      {
        host: "127.0.0.1",
        port: backend.port,
        method: req.method,
        path: req.url,
        headers: forwardable(req.headers),
        agent: this.agent,
      },
      answer => {
        res.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        answer.pipe(res);
        answer.once("end", done);
        answer.once("error", done);
      },
    );
    upstream.once("error", (err: NodeJS.ErrnoException) => {
      const cause = err.code ?? err.name;
      this.upstreamErrors[cause] = (this.upstreamErrors[cause] ?? 0) + 1;
      if (!res.headersSent) {
        res.writeHead(502, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: { code: "BAD_GATEWAY", message: cause } }));
      } else res.destroy();
      done();
    });
    res.once("close", done);
    req.pipe(upstream);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>(resolve => server.close(() => resolve()));
  }
}
