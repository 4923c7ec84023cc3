import { Errors } from "moleculer";

/**
 * The one error shape of the public contract (shared/design/api.md, "Errors"):
 * `{name, message, code, type, data?}`. Whatever failed inside the cluster, the client
 * sees this shape and nothing else: no stack, no node id, no action or service name.
 */
export interface PublicError {
  name: string;
  message: string;
  code: number;
  type: string;
  data?: unknown;
}

export class GatewayError extends Errors.MoleculerClientError {
  constructor(name: string, message: string, code: number, type: string, data?: unknown) {
    super(message, code, type, data);
    this.name = name;
  }
}

export const badJson = (): GatewayError =>
  new GatewayError("BadRequestError", "The body is not valid JSON", 400, "INVALID_JSON");
export const tooDeep = (maxDepth: number): GatewayError =>
  new GatewayError("BadRequestError", "The body nests too deeply", 400, "JSON_TOO_DEEP", {
    maxDepth,
  });
export const unauthenticated = (message = "A valid access token is required"): GatewayError =>
  new GatewayError("UnauthorizedError", message, 401, "UNAUTHORIZED");
export const forbidden = (): GatewayError =>
  new GatewayError("ForbiddenError", "You may not do this", 403, "FORBIDDEN");
export const notFound = (): GatewayError =>
  new GatewayError("NotFoundError", "Not found", 404, "NOT_FOUND");
export const payloadTooLarge = (limit: number): GatewayError =>
  new GatewayError("PayloadTooLargeError", "The body is too large", 413, "PAYLOAD_TOO_LARGE", {
    limit,
  });
export const unsupportedMediaType = (expected: string): GatewayError =>
  new GatewayError(
    "UnsupportedMediaTypeError",
    `The body must be sent as ${expected}`,
    415,
    "UNSUPPORTED_MEDIA_TYPE",
  );
export const rateLimited = (retryAfterSeconds: number): GatewayError =>
  new GatewayError("RateLimitedError", "Too many requests", 429, "RATE_LIMITED", {
    retryAfter: retryAfterSeconds,
  });
export const serviceUnavailable = (): GatewayError =>
  new GatewayError(
    "ServiceUnavailableError",
    "A service this request needs is not available; try again shortly",
    503,
    "SERVICE_UNAVAILABLE",
  );
export const gatewayTimeout = (): GatewayError =>
  new GatewayError(
    "GatewayTimeoutError",
    "The request took too long to answer",
    504,
    "GATEWAY_TIMEOUT",
  );
/**
 * A body or query field named like a path parameter (`{"id": …}` on /courses/:id): moleculer-web
 * would silently let the path win, so the request is refused instead (security.md line 21).
 */
export const pathParamsInBody = (names: string[]): Errors.ValidationError =>
  new Errors.ValidationError(
    "Parameters validation error!",
    "VALIDATION_ERROR",
    names.map(name => ({
      type: "objectStrict",
      field: name,
      actual: name,
      message: `The '${name}' field comes from the path; it may not be sent in the body or query.`,
    })),
  );
/**
 * A JSON key `__proto__`: moleculer-web merges the body with Object.assign, which would make
 * it the params' prototype — fields the strict validators never see as the body's own.
 */
export const prototypeKey = (field: string): Errors.ValidationError =>
  new Errors.ValidationError("Parameters validation error!", "VALIDATION_ERROR", [
    {
      type: "objectStrict",
      field,
      actual: "__proto__",
      message: "The key '__proto__' is not allowed.",
    },
  ]);
const internal = (): PublicError => ({
  name: "InternalServerError",
  message: "Something went wrong on our side",
  code: 500,
  type: "INTERNAL_ERROR",
});

/** body-parser and busboy errors carry `type`/`status` of their own. */
interface LibraryError {
  type?: unknown;
  status?: unknown;
  code?: unknown;
}

const SECRET_FIELD = /pass(word)?|secret|token|otp|code/i;

/**
 * fastest-validator items carry `actual` (the rejected value, perhaps a password) and
 * moleculer adds `nodeID`/`action`: the client gets field, type, message and expectation only.
 */
function validationItems(data: unknown): unknown {
  if (!Array.isArray(data)) return data;
  return data.map(item => {
    if (item === null || typeof item !== "object") return item;
    const { type, field, message, expected } = item as Record<string, unknown>;
    const out: Record<string, unknown> = { type, field, message };
    // An unknown field ($$strict): `actual` names the field, not a value the client sent.
    if (type === "objectStrict") out.actual = (item as Record<string, unknown>).actual;
    if (expected !== undefined && !(typeof field === "string" && SECRET_FIELD.test(field))) {
      out.expected = expected;
    }
    return out;
  });
}

function isTimeout(err: Error): boolean {
  return (
    err instanceof Errors.RequestTimeoutError || (err as LibraryError).type === "REQUEST_TIMEOUT"
  );
}

function isUnavailable(err: Error): boolean {
  const type = (err as LibraryError).type;
  return (
    // The node lost its transporter (NATS unreachable): nothing can be reached right now.
    err instanceof Errors.BrokerDisconnectedError ||
    err instanceof Errors.ServiceNotFoundError ||
    err instanceof Errors.ServiceNotAvailableError ||
    err instanceof Errors.QueueIsFullError ||
    type === "SERVICE_NOT_FOUND" ||
    type === "SERVICE_NOT_AVAILABLE" ||
    type === "QUEUE_FULL" ||
    type === "NODE_IS_UNAVAILABLE" ||
    type === "REQUEST_SKIPPED" ||
    type === "REQUEST_REJECTED" ||
    type === "SERVICE_UNAVAILABLE"
  );
}

/** Maps any failure to the status and body the client receives. */
export function toPublicError(err: unknown): PublicError {
  if (!(err instanceof Error)) return internal();
  if (err instanceof GatewayError) {
    return pick(err);
  }
  if (isTimeout(err)) return pick(gatewayTimeout());
  if (isUnavailable(err)) return pick(serviceUnavailable());
  const lib = err as LibraryError;
  // moleculer-web raises its own 503 (no endpoint for an alias) with no type.
  if (lib.code === 503) return pick(serviceUnavailable());
  if (lib.code === 504) return pick(gatewayTimeout());
  // body-parser (before our own wrapper sees it) and busboy limits
  if (lib.type === "entity.too.large" || lib.status === 413 || lib.code === 413) {
    return pick(payloadTooLarge(0));
  }
  if (lib.type === "entity.parse.failed") return pick(badJson());
  if (err instanceof Errors.ValidationError || lib.type === "VALIDATION_ERROR") {
    const e = err as Errors.MoleculerError;
    return {
      name: "ValidationError",
      message: "Parameters validation error!",
      code: 422,
      type: "VALIDATION_ERROR",
      data: validationItems(e.data),
    };
  }
  const code = typeof lib.code === "number" ? lib.code : 500;
  if (err instanceof Errors.MoleculerError && code >= 400 && code < 500) {
    // A service's own client error (409 EMAIL_TAKEN, 404 LESSON_NOT_FOUND, ...): its words.
    return pick(err);
  }
  return internal();
}

function pick(err: Errors.MoleculerError): PublicError {
  const out: PublicError = {
    name: err.name,
    message: err.message,
    code: err.code,
    type: err.type || "ERROR",
  };
  if (err.data !== undefined && err.data !== null) out.data = err.data;
  return out;
}
