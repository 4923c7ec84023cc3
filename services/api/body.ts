import type { IncomingMessage, ServerResponse } from "node:http";
import bodyParser from "body-parser";
import { badJson, payloadTooLarge, prototypeKey, tooDeep, unsupportedMediaType } from "./errors";

const JSON_BODY_LIMIT = 1024 * 1024;
export const MEDIA_BODY_LIMIT = 20 * 1024 * 1024;

type Next = (err?: unknown) => void;
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: Next) => void;

function hasBody(req: IncomingMessage): boolean {
  return (
    req.headers["transfer-encoding"] !== undefined ||
    (req.headers["content-length"] !== undefined && req.headers["content-length"] !== "0")
  );
}

function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0].trim().toLowerCase();
}

function declaredLength(req: IncomingMessage): number | undefined {
  const value = req.headers["content-length"];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

/** Deeper than any body of the contract (a lesson's questions' answers are 4 levels down). */
const JSON_MAX_DEPTH = 32;

/**
 * What is wrong with a parsed body's shape, or undefined: an own `__proto__` key anywhere
 * (named by the top-level field holding it), or nesting deeper than JSON_MAX_DEPTH, which
 * recursive validators and serializers further in would answer with a stack overflow.
 */
function bodyShapeProblem(
  body: unknown,
): { kind: "prototype"; field: string } | { kind: "depth" } | undefined {
  // Iterative, and no path strings built on the way: a 1 MiB body can nest very deep.
  const pending: Array<[unknown, string, number]> = [[body, "", 0]];
  while (pending.length > 0) {
    const [value, top, depth] = pending.pop() as [unknown, string, number];
    if (value === null || typeof value !== "object") continue;
    if (depth >= JSON_MAX_DEPTH) return { kind: "depth" };
    for (const key of Object.keys(value)) {
      if (key === "__proto__") return { kind: "prototype", field: top || key };
      pending.push([(value as Record<string, unknown>)[key], top || key, depth + 1]);
    }
  }
  return undefined;
}

const parseJson = bodyParser.json({ limit: JSON_BODY_LIMIT, strict: true, type: () => true });

/**
 * JSON routes: a body must be sent as application/json (415 otherwise: a JSON Patch or Merge
 * Patch document is a different language that would be read as a plain body), be at most
 * 1 MiB (413, refused from Content-Length before reading when possible) and parse (400).
 */
export const jsonBody: Middleware = (req, res, next) => {
  if (!hasBody(req)) return next();
  if (mediaType(req) !== "application/json") return next(unsupportedMediaType("application/json"));
  const length = declaredLength(req);
  if (length !== undefined && length > JSON_BODY_LIMIT)
    return next(payloadTooLarge(JSON_BODY_LIMIT));
  parseJson(req, res, (err?: unknown) => {
    if (!err) {
      const problem = bodyShapeProblem((req as { body?: unknown }).body);
      if (problem?.kind === "prototype") return next(prototypeKey(problem.field));
      return next(problem ? tooDeep(JSON_MAX_DEPTH) : undefined);
    }
    const type = (err as { type?: string }).type;
    if (type === "entity.too.large") return next(payloadTooLarge(JSON_BODY_LIMIT));
    if (type === "entity.parse.failed") return next(badJson());
    if (type === "charset.unsupported" || type === "encoding.unsupported") {
      return next(unsupportedMediaType("application/json; charset=utf-8"));
    }
    next(err);
  });
};

/**
 * Signed webhooks (Stripe): the body exactly as it came, since the signature is over these
 * bytes and a parse-and-serialise would change them. JSON only, at most 1 MiB (413), UTF-8;
 * the action gets it as the `payload` parameter and parses it only once it has verified it.
 */
export const rawBody: Middleware = (req, _res, next) => {
  const request = req as { body?: unknown };
  if (!hasBody(req)) {
    request.body = { payload: "" };
    return next();
  }
  if (mediaType(req) !== "application/json") return next(unsupportedMediaType("application/json"));
  const length = declaredLength(req);
  if (length !== undefined && length > JSON_BODY_LIMIT)
    return next(payloadTooLarge(JSON_BODY_LIMIT));
  const chunks: Buffer[] = [];
  let received = 0;
  let failed = false;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    next(err);
  };
  req.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > JSON_BODY_LIMIT) fail(payloadTooLarge(JSON_BODY_LIMIT));
    else if (!failed) chunks.push(chunk);
  });
  req.on("end", () => {
    if (failed) return;
    request.body = { payload: Buffer.concat(chunks).toString("utf8") };
    next();
  });
  req.on("error", fail);
};

/** The media upload: multipart only, at most 20 MiB (busboy enforces the per-file limit while streaming). */
export const multipartBody: Middleware = (req, _res, next) => {
  if (mediaType(req) !== "multipart/form-data") {
    return next(unsupportedMediaType("multipart/form-data"));
  }
  const length = declaredLength(req);
  // Headers and boundaries of a one-file form add a few KiB to the file itself.
  if (length !== undefined && length > MEDIA_BODY_LIMIT + 64 * 1024) {
    return next(payloadTooLarge(MEDIA_BODY_LIMIT));
  }
  next();
};

/** A form post's body is at most a few fields (`List-Unsubscribe=One-Click`). */
const FORM_BODY_LIMIT = 4 * 1024;
const FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain"];

/**
 * RFC 8058 one-click posts: mail clients send a small form whose content the action does not
 * need (the signed token in the path is the proof), so the body is checked and discarded.
 */
export const formBody: Middleware = (req, _res, next) => {
  if (!hasBody(req)) return next();
  if (!FORM_TYPES.includes(mediaType(req))) {
    return next(unsupportedMediaType("application/x-www-form-urlencoded"));
  }
  const length = declaredLength(req);
  if (length !== undefined && length > FORM_BODY_LIMIT)
    return next(payloadTooLarge(FORM_BODY_LIMIT));
  let received = 0;
  let failed = false;
  req.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > FORM_BODY_LIMIT && !failed) {
      failed = true;
      next(payloadTooLarge(FORM_BODY_LIMIT));
    }
  });
  req.on("end", () => {
    if (!failed) next();
  });
  req.on("error", err => {
    if (!failed) {
      failed = true;
      next(err);
    }
  });
};
