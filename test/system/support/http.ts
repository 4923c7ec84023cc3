/** A small JSON client for the public API, as an app would call it. */

export interface Answer<T = Json> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- answers are asserted field by field
export type Json = any;

export interface RequestOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export class ApiClient {
  /**
   * @param origin the gateway, e.g. http://127.0.0.1:3000
   * @param clientIp stands for this client's address: the gateways trust loopback as their proxy,
   *   so each test is its own client for the rate limits (X-Forwarded-For as Traefik would set it)
   */
  constructor(
    readonly origin: string,
    readonly clientIp?: string,
  ) {}

  /** The same client talking to another gateway node. */
  via(origin: string): ApiClient {
    return new ApiClient(origin, this.clientIp);
  }

  async request<T = Json>(
    method: string,
    path: string,
    opts: RequestOptions = {},
  ): Promise<Answer<T>> {
    const headers: Record<string, string> = { accept: "application/json", ...opts.headers };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (this.clientIp) headers["x-forwarded-for"] = this.clientIp;
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] ??= "application/json";
      body = JSON.stringify(opts.body);
    }
    const url = path.startsWith("/health") || path.startsWith("/api/") ? path : `/api/v1${path}`;
    const res = await fetch(`${this.origin}${url}`, {
      method,
      headers,
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get("content-type") ?? "").includes("json") && text !== "") {
      parsed = JSON.parse(text);
    }
    return { status: res.status, headers: res.headers, body: parsed as T, text };
  }

  get<T = Json>(path: string, opts?: RequestOptions) {
    return this.request<T>("GET", path, opts);
  }
  post<T = Json>(path: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>("POST", path, { ...opts, body });
  }
  put<T = Json>(path: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>("PUT", path, { ...opts, body });
  }
  patch<T = Json>(path: string, body?: unknown, opts?: RequestOptions) {
    return this.request<T>("PATCH", path, { ...opts, body });
  }
  delete<T = Json>(path: string, opts?: RequestOptions) {
    return this.request<T>("DELETE", path, opts);
  }
}

/** Fails with the whole answer in the message, so a wrong status explains itself. */
export function expectStatus<T>(answer: Answer<T>, status: number, what = ""): Answer<T> {
  if (answer.status !== status) {
    throw new Error(
      `${what ? `${what}: ` : ""}expected HTTP ${status}, got ${answer.status}: ${answer.text.slice(0, 600)}`,
    );
  }
  return answer;
}

/** The contract's error shape: `{name, message, code, type, data?}` and nothing that leaks internals. */
export function expectErrorShape(answer: Answer, status: number, type?: string): void {
  expectStatus(answer, status);
  expect(answer.headers.get("content-type")).toMatch(/application\/json/);
  const body = answer.body as Record<string, unknown>;
  expect(typeof body.name).toBe("string");
  expect(typeof body.message).toBe("string");
  expect(body.code).toBe(status);
  expect(typeof body.type).toBe("string");
  expect(String(body.type)).toMatch(/^[A-Z][A-Z0-9_]*$/);
  if (type) expect(body.type).toBe(type);
  expect(
    Object.keys(body).filter(k => !["name", "message", "code", "type", "data"].includes(k)),
  ).toEqual([]);
  expect(answer.text).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)|"stack"/);
}

/** The contract's list shape. */
export function expectListShape(body: Json, page = 1): void {
  expect(Array.isArray(body.rows)).toBe(true);
  expect(Number.isInteger(body.total)).toBe(true);
  expect(body.page).toBe(page);
  expect(Number.isInteger(body.pageSize)).toBe(true);
  expect(body.totalPages).toBe(Math.ceil(body.total / body.pageSize));
}
