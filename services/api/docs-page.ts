import fs from "node:fs";
import path from "node:path";
import type { ServerResponse } from "node:http";
// The path helper only: the package's index also loads the 1.5 MB browser bundle into V8.
import getAbsoluteFSPath from "swagger-ui-dist/absolute-path.js";

/**
 * The interactive reference at /api/docs: Swagger UI from the swagger-ui-dist package,
 * every file served by the gateway itself (no CDN), pointed at /api/openapi.json.
 */

const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css; charset=utf-8",
  "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
  "favicon-32x32.png": "image/png",
  "favicon-16x16.png": "image/png",
};

const INIT_SCRIPT = `window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "StandaloneLayout",
  });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Lingomesh API reference</title>
  <link rel="stylesheet" href="/api/docs/swagger-ui.css">
  <link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/api/docs/swagger-ui-bundle.js"></script>
  <script src="/api/docs/swagger-ui-standalone-preset.js"></script>
  <script src="/api/docs/init.js"></script>
</body>
</html>
`;

// Only our own origin; Swagger UI needs inline styles and data: images.
const CSP =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const cache = new Map<string, Buffer>();

function send(res: ServerResponse, type: string, body: string | Buffer, maxAge: number): void {
  res.writeHead(200, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": `public, max-age=${maxAge}`,
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
  });
  res.end(body);
}

export function sendDocsPage(res: ServerResponse): void {
  send(res, "text/html; charset=utf-8", PAGE, 300);
}

/** One of the page's own files; false when the name is not one of them. */
export function sendDocsAsset(res: ServerResponse, name: string): boolean {
  if (name === "init.js") {
    send(res, "text/javascript; charset=utf-8", INIT_SCRIPT, 300);
    return true;
  }
  const type = ASSETS[name];
  if (!type) return false;
  let body = cache.get(name);
  if (!body) {
    body = fs.readFileSync(path.join(getAbsoluteFSPath(), name));
    cache.set(name, body);
  }
  send(res, type, body, 86_400);
  return true;
}
