import { needsUser, type GuardedAction } from "../../lib/auth/guard";
import type { RouteSpec } from "./route-table";
import { objectSchema, ruleToJsonSchema, isOptional, type JsonSchema } from "./fv-json-schema";

/**
 * The OpenAPI 3.1 document of the public API, generated from the contract's route rows
 * (services/api/routes/*.routes.ts) and the `params` each mapped action validates with,
 * as the service registry reports them (so remote services' schemas are included).
 */

export interface ActionInfo extends GuardedAction {
  params?: Record<string, unknown>;
}

interface OpsPath {
  path: string;
  summary: string;
  contentType: string;
}

const OPS_PATHS: OpsPath[] = [
  { path: "/health/live", summary: "200 while the process runs", contentType: "application/json" },
  {
    path: "/health/ready",
    summary: "200 when every dependency of this node answers, 503 otherwise",
    contentType: "application/json",
  },
  { path: "/api/openapi.json", summary: "This document", contentType: "application/json" },
  { path: "/api/docs", summary: "Interactive API reference", contentType: "text/html" },
];

/** "/courses/:id" → "/courses/{id}", "/open/:token.gif" → "/open/{token}.gif". */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

export function pathParams(path: string): string[] {
  return [...path.matchAll(/:([A-Za-z0-9_]+)/g)].map(m => m[1]);
}

const ERROR_STATUSES: Record<string, string> = {
  "400": "Malformed JSON",
  "401": "No valid access token",
  "403": "The caller's role does not admit this",
  "404": "Not found (or not yours)",
  "413": "Body too large",
  "415": "Wrong content type",
  "422": "Validation failed; `data` lists each field's problem",
  "429": "Rate limited; see Retry-After",
  "503": "A service this request needs is not available",
  "504": "The request took too long",
};

function errorResponse(description: string): JsonSchema {
  return {
    description,
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
}

function operationId(route: RouteSpec): string {
  const words = route.path
    .split(/[/.]/)
    .filter(Boolean)
    .map(part => (part.startsWith(":") ? `by-${part.slice(1)}` : part))
    .join("-");
  return `${route.method.toLowerCase()}-${words}`.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) =>
    c ? c.toUpperCase() : "",
  );
}

function operation(route: RouteSpec, action: ActionInfo | undefined): JsonSchema {
  const params = (action?.params ?? {}) as Record<string, unknown>;
  const strict = params.$$strict as boolean | "remove" | undefined;
  const inPath = pathParams(route.path);
  const parameters: JsonSchema[] = inPath.map(name => ({
    name,
    in: "path",
    required: true,
    schema:
      params[name] !== undefined ? ruleToJsonSchema(params[name] as never) : { type: "string" },
  }));
  const rest: Record<string, unknown> = {};
  for (const [name, rule] of Object.entries(params)) {
    if (name.startsWith("$$") || inPath.includes(name)) continue;
    rest[name] = rule;
  }
  const op: JsonSchema = {
    operationId: operationId(route),
    summary: route.summary,
    tags: [route.tag],
    "x-moleculer-action": route.action,
  };
  const bodyless = route.method === "GET" || route.method === "HEAD" || route.method === "DELETE";
  if (bodyless) {
    for (const [name, rule] of Object.entries(rest)) {
      parameters.push({
        name,
        in: "query",
        required: !isOptional(rule as never),
        schema: ruleToJsonSchema(rule as never),
      });
    }
  } else if (route.kind === "multipart") {
    op.requestBody = {
      required: true,
      content: {
        "multipart/form-data": {
          schema: {
            type: "object",
            properties: { file: { type: "string", contentMediaType: "application/octet-stream" } },
            required: ["file"],
          },
        },
      },
    };
  } else if (route.kind === "form") {
    op.requestBody = {
      required: false,
      content: {
        "application/x-www-form-urlencoded": {
          schema: { type: "object", properties: { "List-Unsubscribe": { const: "One-Click" } } },
        },
      },
    };
  } else if (route.kind === "raw") {
    op.requestBody = {
      required: true,
      content: { "application/json": { schema: { type: "object" } } },
    };
  } else if (Object.keys(rest).length > 0) {
    const schema = objectSchema(rest as never, strict);
    op.requestBody = {
      required: Array.isArray(schema.required) && schema.required.length > 0,
      content: { "application/json": { schema } },
    };
  }
  if (parameters.length > 0) op.parameters = parameters;
  const status = String(route.status ?? 200);
  const responses: Record<string, JsonSchema> = {};
  if (status === "204") responses[status] = { description: "Done, no content" };
  else if (route.kind === "binary") {
    responses[status] = {
      description: "Binary answer",
      content: { "application/octet-stream": {} },
    };
  } else if (route.kind === "html") {
    responses[status] = { description: "A page for people", content: { "text/html": {} } };
  } else {
    responses[status] = { description: "Success", content: { "application/json": { schema: {} } } };
  }
  const signedIn = needsUser(action);
  const codes = ["429", "503", "504"];
  if (signedIn) codes.push("401");
  if (action?.roles?.length) codes.push("403");
  if (inPath.length > 0) codes.push("404");
  if (!bodyless && route.kind !== "multipart") codes.push("400", "413", "415");
  if (route.kind === "multipart") codes.push("413", "415");
  if (Object.keys(params).length > 0) codes.push("422");
  for (const code of [...new Set(codes)].sort())
    responses[code] = errorResponse(ERROR_STATUSES[code]);
  op.responses = responses;
  if (signedIn) {
    op.security = [{ bearerAuth: [] }];
    if (action?.roles?.length) {
      op.description = `Roles: ${action.roles.join(", ")} (admin always admitted).`;
    }
  } else {
    op.security = [];
  }
  return op;
}

export function buildOpenApi(opts: {
  routes: RouteSpec[];
  actions: (name: string) => ActionInfo | undefined;
  version: string;
}): JsonSchema {
  // A path item holds its operations and, for the ops paths, its own `servers` list.
  const paths: Record<string, Record<string, JsonSchema | JsonSchema[]>> = {};
  for (const route of opts.routes) {
    const key = openApiPath(route.path);
    paths[key] ??= {};
    paths[key][route.method.toLowerCase()] = operation(route, opts.actions(route.action));
  }
  for (const ops of OPS_PATHS) {
    paths[ops.path] = {
      servers: [{ url: "/" }],
      get: {
        operationId: `ops${ops.path.replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ? c.toUpperCase() : ""))}`,
        summary: ops.summary,
        tags: ["Operations"],
        security: [],
        responses: { "200": { description: "OK", content: { [ops.contentType]: {} } } },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "Lingomesh API",
      version: opts.version,
      description:
        "The public REST contract of Lingomesh. Send `Authorization: Bearer <accessToken>` on every route that lists bearerAuth; every failure answers the Error shape.",
    },
    servers: [{ url: "/api/v1" }],
    tags: [
      "Identity",
      "Content",
      "Learning",
      "Notifications",
      "Billing",
      "Aggregation",
      "Operations",
    ].map(name => ({ name })),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
      schemas: {
        Error: {
          type: "object",
          required: ["name", "message", "code", "type"],
          properties: {
            name: { type: "string" },
            message: { type: "string" },
            code: { type: "integer" },
            type: { type: "string" },
            data: {},
          },
        },
      },
    },
  };
}
