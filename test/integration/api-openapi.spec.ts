import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { startTestNode, type TestNode } from "../support/cluster";
import { tempDataDir } from "../support/isolation";
import { openApiPath } from "../../services/api/openapi";
import { publicRoutes } from "../../services/api/all-routes";
import { http, realActionReplicas } from "./api-kit";

const run = promisify(execFile);

/** @seriousme/openapi-schema-validator is ESM-only: run its CLI with the project's Node. */
async function validateOpenApi(
  doc: unknown,
  dir: string,
): Promise<{ valid: boolean; errors?: unknown }> {
  const file = path.join(dir, "openapi.json");
  fs.writeFileSync(file, JSON.stringify(doc));
  const cli = require.resolve("@seriousme/openapi-schema-validator/bin/validate-api-cli.js");
  const out = await run(process.execPath, [cli, file]).catch((err: { stdout: string }) => ({
    stdout: err.stdout,
  }));
  return JSON.parse(out.stdout) as { valid: boolean; errors?: unknown };
}

type Doc = {
  openapi: string;
  servers: Array<{ url: string }>;
  paths: Record<
    string,
    Record<
      string,
      {
        requestBody?: { content: Record<string, { schema: Record<string, unknown> }> };
        parameters?: Array<{ name: string; in: string }>;
        security?: unknown[];
      }
    > & { servers?: Array<{ url: string }> }
  >;
};

const METHODS = ["get", "head", "post", "put", "patch", "delete"];

/**
 * The real routes files and the real services' action declarations (see realActionReplicas):
 * the document is built from the params the actions validate with.
 */
describe("OpenAPI document of the real routes", () => {
  const dataDir = tempDataDir("lm-openapi");
  let node: TestNode;
  let doc: Doc;

  beforeAll(async () => {
    node = await startTestNode(["api"], { DATA_DIR: dataDir, RATE_LIMIT_RPM: "100000" });
    for (const replica of realActionReplicas()) node.broker.createService(replica);
    await node.broker.waitForServices(
      ["users", "content", "progress", "notify", "billing"],
      10_000,
    );
    doc = (await http(`${node.origin}/api/openapi.json`)).body as Doc;
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("when validated with an OpenAPI 3.1 schema validator, then it is valid", async () => {
    expect(doc.openapi).toBe("3.1.0");
    const result = await validateOpenApi(doc, dataDir);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
  });

  it("when compared with the gateway's aliases, then every alias is documented", () => {
    const svc = node.broker.getLocalService("api") as unknown as {
      aliases: Array<{ method: string; fullPath: string; spec?: unknown }>;
    };
    // Pages for people, not API: the docs' assets and the local payment provider's checkout
    // page (embedded defaults without Stripe keys, docs/billing.md).
    const pages = ["/api/docs/:file", "/billing/local-checkout/:id"];
    const aliases = svc.aliases.filter(alias => !pages.includes(alias.fullPath));
    // The ops routes: /health/live, /health/ready, /api/openapi.json, /api/docs (metrics live on METRICS_PORT).
    expect(aliases.length).toBe(publicRoutes().length + 4);
    expect(doc.paths["/metrics"]).toBeUndefined();
    for (const alias of aliases) {
      const documented = alias.fullPath.startsWith("/api/v1/")
        ? doc.paths[openApiPath(alias.fullPath.slice("/api/v1".length))]
        : doc.paths[alias.fullPath];
      expect([
        alias.method,
        alias.fullPath,
        Boolean(documented?.[alias.method.toLowerCase()]),
      ]).toEqual([alias.method, alias.fullPath, true]);
    }
  });

  it("when every documented operation is called, then it is routed (never the router's 404)", async () => {
    let operations = 0;
    for (const [docPath, item] of Object.entries(doc.paths)) {
      const base = item.servers?.[0]?.url === "/" ? "" : doc.servers[0].url;
      const url = `${node.origin}${base}${docPath.replace(/\{[^}]+\}/g, "00000000-0000-4000-8000-000000000000")}`;
      for (const method of METHODS.filter(m => m in item)) {
        operations++;
        const res = await http(url, {
          method: method.toUpperCase(),
          ...(["post", "put", "patch"].includes(method) ? { json: {} } : {}),
        });
        const routerMiss =
          res.status === 404 && (res.body as { message?: string })?.message === "Not found";
        expect([method, docPath, routerMiss]).toEqual([method, docPath, false]);
      }
    }
    expect(operations).toBe(publicRoutes().length + 4);
  });

  it("when an action validates its params, then the document shows that same schema", () => {
    const register = publicRoutes().find(
      route => route.path === "/auth/register" && route.method === "POST",
    );
    expect(register).toBeDefined();
    const schema = doc.paths["/auth/register"].post.requestBody?.content["application/json"]
      .schema as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(["email", "password", "name"]),
    );
    expect(schema.required).toEqual(expect.arrayContaining(["email", "password"]));
    // Routes that need a user say so; public ones say they need nothing.
    expect(doc.paths["/me"].get.security).toEqual([{ bearerAuth: [] }]);
    expect(doc.paths["/courses"].get.security).toEqual([]);
    const list = doc.paths["/courses"].get.parameters?.map(p => `${p.in}:${p.name}`) ?? [];
    expect(list).toEqual(expect.arrayContaining(["query:level", "query:q"]));
  });
});
