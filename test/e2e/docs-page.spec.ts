import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { requireTool } from "../deploy/deploy-support";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { publicRoutes } from "../../services/api/all-routes";
import { realActionReplicas } from "../integration/api-kit";

/** The interactive reference, rendered by a real headless Chromium from the gateway alone. */
describe("API docs page in headless Chromium", () => {
  const dataDir = tempDataDir("lm-docs");
  let node: TestNode;
  let browser: Browser;

  beforeAll(async () => {
    const executablePath = requireTool("chromium");
    node = await startTestNode(["api"], { DATA_DIR: dataDir, RATE_LIMIT_RPM: "100000" });
    for (const replica of realActionReplicas()) node.broker.createService(replica);
    await node.broker.waitForServices(
      ["users", "content", "progress", "notify", "billing"],
      10_000,
    );
    browser = await chromium.launch({
      executablePath,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when /api/docs is opened, then Swagger UI renders every route, loading nothing from another origin", async () => {
    const page = await browser.newPage();
    const foreign: string[] = [];
    const failed: string[] = [];
    const origin = node.origin as string;
    page.on("request", request => {
      if (!request.url().startsWith(origin) && !request.url().startsWith("data:"))
        foreign.push(request.url());
    });
    page.on("requestfailed", request => failed.push(request.url()));
    const errors: string[] = [];
    page.on("pageerror", err => errors.push(err.message));

    const res = await page.goto(`${origin}/api/docs`);
    expect(res?.status()).toBe(200);
    await page.waitForSelector(".opblock", { timeout: 20_000 });

    expect(await page.locator(".info .title").innerText()).toContain("Lingomesh API");
    const operations = await page.locator(".opblock").count();
    // The ops routes: /health/live, /health/ready, /api/openapi.json, /api/docs (no /metrics).
    expect(operations).toBe(publicRoutes().length + 4);
    const paths = await page.locator(".opblock-summary-path").allInnerTexts();
    const normalised = paths.map(p => p.replace(/\u200b/g, "").trim());
    for (const route of publicRoutes()) {
      expect(normalised).toContain(route.path.replace(/:([A-Za-z0-9_]+)/g, "{$1}"));
    }
    expect(foreign).toEqual([]);
    expect(failed).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
