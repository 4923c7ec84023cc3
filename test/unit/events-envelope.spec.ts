import { createEnvelope, InvalidEnvelopeError, parseEnvelope } from "../../lib/events/envelope";
import { topologyNames } from "../../lib/events/amqp-transport";
import { retryDelay, retryDelays } from "../../lib/events/transport";

describe("durable event envelope and retry schedule", () => {
  test("when an envelope is created, then it carries a UUID v7 id, version 1, the producer and the request id", () => {
    const before = Date.now();
    const envelope = createEnvelope(
      "user.deleted",
      { userId: "u1" },
      { producer: "users", requestId: "r-1" },
    );
    expect(envelope).toEqual({
      id: expect.stringMatching(
        /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      ),
      type: "user.deleted",
      version: 1,
      occurredAt: expect.any(String),
      producer: "users",
      requestId: "r-1",
      data: { userId: "u1" },
    });
    expect(Date.parse(envelope.occurredAt)).toBeGreaterThanOrEqual(before - 1);
    expect(
      createEnvelope("user.deleted", { userId: "u1" }, { producer: "users" }),
    ).not.toHaveProperty("requestId");
  });

  test("when envelopes are created one after another, then their ids sort in creation order", () => {
    const ids = Array.from(
      { length: 50 },
      () => createEnvelope("user.deleted", { userId: "u" }, { producer: "p" }).id,
    );
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(50);
  });

  test("when a message body is not a valid envelope, then parsing rejects it", () => {
    const good = createEnvelope("user.deleted", { userId: "u1" }, { producer: "users" });
    expect(parseEnvelope(Buffer.from(JSON.stringify(good)))).toEqual(good);
    expect(() => parseEnvelope("not json")).toThrow(InvalidEnvelopeError);
    expect(() => parseEnvelope(JSON.stringify({ ...good, id: "nope" }))).toThrow(
      "Invalid event envelope: id",
    );
    expect(() => parseEnvelope(JSON.stringify({ ...good, data: null }))).toThrow(
      "Invalid event envelope: data",
    );
  });

  test("when retries are scheduled, then the delay doubles per attempt up to the maximum", () => {
    const policy = { maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 10_000 };
    expect([1, 2, 3, 4, 5].map(attempt => retryDelay(policy, attempt))).toEqual([
      1000, 2000, 4000, 8000, 10_000,
    ]);
    expect(retryDelays(policy)).toEqual([1000, 2000, 4000, 8000, 10_000]);
    expect(retryDelays({ ...policy, maxAttempts: 1 })).toEqual([]);
  });

  test("when the AMQP topology is named, then every name is prefixed by the namespace", () => {
    const names = topologyNames("ns1", "notify", {
      maxAttempts: 3,
      baseDelayMs: 500,
      maxDelayMs: 60_000,
    });
    expect(names).toMatchObject({
      exchange: "ns1.events",
      queue: "ns1.notify",
      dlq: "ns1.notify.dlq",
      retryQueues: ["ns1.notify.retry.500ms", "ns1.notify.retry.1000ms"],
    });
  });
});
