import fs from "node:fs";
import path from "node:path";
import { loadConfig } from "../../lib/config";
import { CLUSTER_FAILOVER_GRACE_MS } from "../../lib/nats-transporter";
import { brokerOptions } from "../../moleculer.config";

const ROOT = path.resolve(__dirname, "../..");

/** Seconds named in a document from the word "heartbeat" to the end of its clause. */
function heartbeatSeconds(file: string): number[] {
  const text = fs.readFileSync(path.join(ROOT, file), "utf8").replace(/\s+/g, " ");
  return [...text.matchAll(/heartbeat[^.;]*/gi)]
    .flatMap(([clause]) => [...clause.matchAll(/(\d+)\s*(?:–\s*(\d+)\s*)?(?:s|seconds)\b/g)])
    .flatMap(match => [match[1], match[2]].filter(Boolean).map(Number));
}

describe("how fast a crashed node is dropped: the docs say what moleculer.config.ts does", () => {
  const options = brokerOptions(loadConfig({ METRICS_PORT: "0" }));
  const interval = options.heartbeatInterval ?? 0;
  const timeout = options.heartbeatTimeout ?? 0;

  it.each(["docs/operating.md", "README.md", "docs/chaos.md"])(
    "when %s speaks of heartbeats, then it names only the configured interval, timeout and worst case",
    file => {
      // Silent for more than the timeout, on Moleculer's whole-second clock, checked every
      // interval: dropped between the timeout and timeout + 2 intervals after the last beat.
      const allowed = [interval, timeout, timeout + 2 * interval];
      const named = heartbeatSeconds(file);
      expect(named.length).toBeGreaterThan(0);
      for (const seconds of named) expect(allowed).toContain(seconds);
    },
  );

  it("when the operating guide says when a crashed node is dropped, then it names the heartbeat timeout", () => {
    expect(heartbeatSeconds("docs/operating.md")).toContain(timeout);
  });
});

describe("how long a node waits for another NATS server: the docs say what the transporter does", () => {
  it("when the operating guide describes a NATS server loss, then the grace it names is CLUSTER_FAILOVER_GRACE_MS", () => {
    const text = fs.readFileSync(path.join(ROOT, "docs/operating.md"), "utf8").replace(/\s+/g, " ");
    const named = /longer than \*\*(\d+(?:\.\d+)?) s\*\* \(`CLUSTER_FAILOVER_GRACE_MS`/.exec(text);
    expect(named).not.toBeNull();
    expect(Number(named?.[1]) * 1000).toBe(CLUSTER_FAILOVER_GRACE_MS);
  });
});
