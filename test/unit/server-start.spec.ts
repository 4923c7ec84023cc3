import { spawnSync } from "node:child_process";
import path from "node:path";

const ROOT = path.resolve(__dirname, "../..");

describe("starting a node (server.ts)", () => {
  it("when a variable is wrong, then the node exits at once with one line naming it and no stack trace", () => {
    const result = spawnSync(process.execPath, ["--import", "tsx", "server.ts"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", PORT: "not-a-port" },
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(result.status).toBe(78);
    const lines = result.stderr.trim().split("\n");
    expect(lines).toEqual(['Configuration error: PORT must be a whole number (got "not-a-port")']);
    expect(result.stdout).not.toMatch(/\bat .+\(.+:\d+:\d+\)/);
  });
});
