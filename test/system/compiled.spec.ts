import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { build } from "../../scripts/build";
import { tempDataDir } from "../support/isolation";
import { freePort } from "../support/node-process";
import { ApiClient, expectStatus } from "./support/http";
import { outboxMailbox } from "./support/mail";
import { startServer, type ServerProcess } from "./support/nodes";

/**
 * The production build (`npm run build`) as the Dockerfile runs it: `node dist/server.js`, no
 * tsx, every service on the embedded stand-ins. What the compiled modules read by path (mail
 * templates and locales, the common-passwords list, the PGlite worker) must be in the build.
 */

const SERVICES = ["api", "users", "content", "progress", "notify", "billing"];

const buildDir = fs.mkdtempSync(path.join(os.tmpdir(), "lingomesh-build-"));
const dataDir = tempDataDir("lingomesh-compiled");
const mailbox = outboxMailbox(dataDir);
let node: ServerProcess | undefined;
let api: ApiClient;

beforeAll(async () => {
  build(buildDir);
  // Start-up time is a benchmark figure, not a test: a loaded CI machine only waits longer.
  node = await startServer(
    "compiled",
    {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      METRICS_PORT: String(await freePort()),
    },
    90_000,
    { compiled: buildDir },
  );
  api = new ApiClient(node.origin!);
}, 240_000);

afterAll(async () => {
  await node?.kill();
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(buildDir, { recursive: true, force: true });
});

describe("the compiled build (node dist/server.js)", () => {
  it("when the build is made, then each service is JavaScript with its source map", () => {
    for (const name of SERVICES) {
      const file = path.join(buildDir, "services", `${name}.service.js`);
      expect(fs.existsSync(file)).toBe(true);
      expect(fs.readFileSync(file, "utf8")).toMatch(/\/\/# sourceMappingURL=.+\.js\.map\s*$/);
      expect(fs.existsSync(`${file}.map`)).toBe(true);
    }
  });

  it("when it starts with no external variables, then every service is ready on plain Node", async () => {
    const ready = expectStatus(await api.get("/health/ready"), 200);
    expect(Object.keys(ready.body.checks)).toEqual(
      expect.arrayContaining([
        "database:users",
        "database:content",
        "database:progress",
        "database:notify",
      ]),
    );
    const cmdline = fs.readFileSync(`/proc/${node!.pid}/cmdline`, "utf8").split("\0");
    expect(cmdline).toContain(path.join(buildDir, "server.js"));
    expect(cmdline.join(" ")).not.toMatch(/tsx/);
  });

  it("when a learner registers, then the copied password list and mail templates are used", async () => {
    const common = await api.post("/auth/register", {
      email: "common@example.com",
      password: "1234567890",
      name: "Common",
    });
    expect(expectStatus(common, 422).body.data).toEqual([
      expect.objectContaining({ field: "password", type: "passwordTooCommon" }),
    ]);
    const email = "compiled@example.com";
    expectStatus(
      await api.post("/auth/register", { email, password: "a long unusual phrase", name: "C" }),
      201,
    );
    const [welcome] = await mailbox.waitFor(email, /./, 1, 30_000);
    expect(welcome.html).toMatch(/<html/i);
    expect(welcome.text.length).toBeGreaterThan(0);
  });
});
