import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../lib/config";
import { replHint } from "../../server";

const ROOT = path.resolve(__dirname, "../..");

describe("the REPL node's start-up hint (server.ts)", () => {
  it("when the node has no services and no transporter, then the hint says calls find nothing and points to npm run dev", () => {
    const hint = replHint(loadConfig({ SERVICES: "" }));
    expect(hint).toContain("ServiceNotFoundError");
    expect(hint).toContain("npm run dev");
    expect(hint).not.toContain("\n");
  });

  it("when the node runs services or joins a cluster, then there is no hint", () => {
    expect(replHint(loadConfig({}))).toBeUndefined();
    expect(
      replHint(loadConfig({ SERVICES: "", TRANSPORTER: "nats://127.0.0.1:4222" })),
    ).toBeUndefined();
  });

  it("when `npm run repl` starts with no variables, then it prints the hint once and lists it in help", () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "lm-repl-"));
    try {
      // The REPL reads `help`, then stdin ends and it exits.
      const result = spawnSync(process.execPath, ["--import", "tsx", "server.ts", "--repl"], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "", HOME: home, SERVICES: "", METRICS_PORT: "0" },
        input: "help\n",
        encoding: "utf8",
        timeout: 30_000,
      });
      expect(result.status).toBe(0);
      const hint = replHint(loadConfig({ SERVICES: "" })) ?? "";
      expect(result.stderr.split("\n").filter(line => line === hint)).toHaveLength(1);
      expect(result.stdout).toMatch(/^\s+alone\s+This REPL node runs no services.*npm run dev/m);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  }, 40_000);
});
