import { Errors } from "moleculer";
import { ClientIpResolver } from "../../services/api/client-ip";
import { toPublicError } from "../../services/api/errors";
import { ruleToJsonSchema, objectSchema } from "../../services/api/fv-json-schema";
import { acceptRequestId } from "../../services/api/request-id";

describe("client IP resolution", () => {
  const resolver = new ClientIpResolver(["10.0.0.0/8", "::1", "192.168.1.5"]);

  it("when the peer is not a trusted proxy, then X-Forwarded-For is ignored", () => {
    expect(resolver.resolve("203.0.113.7", "1.2.3.4")).toBe("203.0.113.7");
  });

  it("when the peer is a trusted proxy, then the right-most untrusted hop is the client", () => {
    expect(resolver.resolve("10.0.0.2", "6.6.6.6, 198.51.100.4, 10.3.3.3")).toBe("198.51.100.4");
    expect(resolver.resolve("::ffff:10.0.0.2", "198.51.100.4")).toBe("198.51.100.4");
    expect(resolver.resolve("::1", ["198.51.100.9"])).toBe("198.51.100.9");
  });

  it("when the chain holds garbage, then the last hop a trusted proxy vouched for is used", () => {
    expect(resolver.resolve("10.0.0.2", "not-an-ip")).toBe("10.0.0.2");
    expect(resolver.resolve("192.168.1.5", "")).toBe("192.168.1.5");
  });

  it("when peers and hops come again, then the remembered answers are those of the first time", () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      ["10.0.0.2", "6.6.6.6, 198.51.100.4, 10.3.3.3"],
      ["203.0.113.7", "1.2.3.4"],
      ["::ffff:10.0.0.2", "10.9.9.9, x, 10.1.1.1"],
      ["not-an-ip", undefined],
      [undefined, "1.2.3.4"],
      ["10.0.0.2", `${"9".repeat(60)}, 10.1.1.1`],
    ];
    const first = cases.map(([peer, hops]) => resolver.resolve(peer, hops));
    expect(first).toEqual([
      "198.51.100.4",
      "203.0.113.7",
      "10.1.1.1",
      "unknown",
      "unknown",
      "10.1.1.1",
    ]);
    expect(cases.map(([peer, hops]) => resolver.resolve(peer, hops))).toEqual(first);
  });
});

describe("public error mapping", () => {
  it("when errors come from the cluster, then each gets the contract shape and no internals", () => {
    expect(
      toPublicError(new Errors.RequestTimeoutError({ action: "x.y", nodeID: "n1" })),
    ).toMatchObject({ code: 504, type: "GATEWAY_TIMEOUT" });
    expect(toPublicError(new Errors.ServiceNotFoundError({ action: "x.y" }))).toMatchObject({
      code: 503,
      type: "SERVICE_UNAVAILABLE",
    });
    expect(
      toPublicError(
        new Errors.QueueIsFullError({ action: "x.y", nodeID: "n1", size: 1, limit: 1 }),
      ),
    ).toMatchObject({ code: 503 });
    const crash = toPublicError(new Error("password=hunter2"));
    expect(crash).toEqual({
      name: "InternalServerError",
      message: expect.any(String),
      code: 500,
      type: "INTERNAL_ERROR",
    });
    expect(
      JSON.stringify(
        toPublicError(new Errors.MoleculerServerError("db down at 10.0.0.1", 500, "DB")),
      ),
    ).not.toContain("10.0.0.1");
  });
});

describe("fastest-validator → JSON Schema", () => {
  it("when params use shorthands, nesting and strict mode, then the JSON Schema says the same", () => {
    expect(
      objectSchema(
        {
          email: "email",
          password: { type: "string", min: 10, max: 128 },
          level: { type: "enum", values: ["A1", "B2"], optional: true },
          topics: { type: "array", items: "string", max: 10 },
          page: "number|integer|min:1|optional|convert",
          prefs: { type: "object", strict: true, props: { marketing: "boolean" } },
        },
        true,
      ),
    ).toEqual({
      type: "object",
      additionalProperties: false,
      required: ["email", "password", "topics", "prefs"],
      properties: {
        email: { type: "string", format: "email" },
        password: { type: "string", minLength: 10, maxLength: 128 },
        level: { enum: ["A1", "B2"] },
        topics: { type: "array", items: { type: "string" }, maxItems: 10 },
        page: { type: "integer", minimum: 1 },
        prefs: {
          type: "object",
          additionalProperties: false,
          required: ["marketing"],
          properties: { marketing: { type: "boolean" } },
        },
      },
    });
    expect(ruleToJsonSchema(["string", "number"])).toEqual({
      anyOf: [{ type: "string" }, { type: "number" }],
    });
  });
});

describe("request ids", () => {
  it("when the header is safe it is kept; otherwise a uuid v7 replaces it", () => {
    expect(acceptRequestId("abc-123")).toBe("abc-123");
    expect(acceptRequestId("a\nb")).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
    expect(acceptRequestId("x".repeat(129))).not.toBe("x".repeat(129));
  });
});
