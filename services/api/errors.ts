import Validator from "fastest-validator";
import { Errors } from "moleculer";
import { ContractError } from "../../lib/errors";

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

// The gateway's own refusals; the 401 and 403 every action answers come from lib/errors.ts.

export const badJson = (): ContractError =>
  new ContractError("BadRequestError", "The body is not valid JSON", 400, "INVALID_JSON");
export const tooDeep = (maxDepth: number): ContractError =>
  new ContractError("BadRequestError", "The body nests too deeply", 400, "JSON_TOO_DEEP", {
    maxDepth,
  });
export const notFound = (): ContractError =>
  new ContractError("NotFoundError", "Not found", 404, "NOT_FOUND");
export const payloadTooLarge = (limit: number): ContractError =>
  new ContractError("PayloadTooLargeError", "The body is too large", 413, "PAYLOAD_TOO_LARGE", {
    limit,
  });
export const unsupportedMediaType = (expected: string): ContractError =>
  new ContractError(
    "UnsupportedMediaTypeError",
    `The body must be sent as ${expected}`,
    415,
    "UNSUPPORTED_MEDIA_TYPE",
  );
export const rateLimited = (retryAfterSeconds: number): ContractError =>
  new ContractError("RateLimitedError", "Too many requests", 429, "RATE_LIMITED", {
    retryAfter: retryAfterSeconds,
  });
export const serviceUnavailable = (): ContractError =>
  new ContractError(
    "ServiceUnavailableError",
    "A service this request needs is not available; try again shortly",
    503,
    "SERVICE_UNAVAILABLE",
  );
const gatewayTimeout = (): ContractError =>
  new ContractError(
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

type Item = Record<string, unknown>;

/** fastest-validator's own wording ({field}, {expected}, {actual} filled as it fills them). */
const DEFAULT_MESSAGES = new Validator().messages as Record<string, string>;

function defaultMessage(item: Item): string | undefined {
  const template = DEFAULT_MESSAGES[String(item.type)];
  const text = (value: unknown) => (value === null || value === undefined ? "" : String(value));
  return template
    ?.replace(/\{field\}/g, text(item.field))
    .replace(/\{expected\}/g, text(item.expected))
    .replace(/\{actual\}/g, text(item.actual));
}

const count = (n: unknown, noun: string) => `${String(n)} ${n === 1 ? noun : `${noun}s`}`;

/**
 * Clearer words for the defaults that mislead: an enum's allowed list printed as if it were
 * the value sent, "1 characters", "must be equal to ''" for a null alternative, "the object ''".
 * A service's own message for a type is left as it wrote it.
 */
const CLEARER: Record<string, (field: string, expected: unknown, actual: unknown) => string> = {
  enumValue: (field, expected) => `The '${field}' field must be one of: ${String(expected)}.`,
  equalValue: (field, expected) =>
    `The '${field}' field must be ${expected === null ? "null" : JSON.stringify(expected)}.`,
  stringMin: (field, n) => `The '${field}' field must be at least ${count(n, "character")} long.`,
  stringMax: (field, n) => `The '${field}' field must be at most ${count(n, "character")} long.`,
  stringLength: (field, n) => `The '${field}' field must be exactly ${count(n, "character")} long.`,
  arrayMin: (field, n) => `The '${field}' field must have at least ${count(n, "item")}.`,
  arrayMax: (field, n) => `The '${field}' field must have at most ${count(n, "item")}.`,
  arrayLength: (field, n) => `The '${field}' field must have exactly ${count(n, "item")}.`,
  objectStrict: (field, _expected, actual) =>
    field
      ? `Not a field of '${field}': '${String(actual)}'.`
      : `Not a field of this request: '${String(actual)}'.`,
};

function clearerMessage(item: Item): unknown {
  const reword = CLEARER[String(item.type)];
  if (!reword || item.message !== defaultMessage(item)) return item.message;
  return reword(typeof item.field === "string" ? item.field : "", item.expected, item.actual);
}

/**
 * A field that may also be null is a `multi` of its rule and `equal: null`: a wrong value
 * fails both, and the null branch's item only repeats "or null". It becomes part of the
 * other items' message.
 */
function foldNullAlternatives(items: Item[]): Item[] {
  const isNullBranch = (item: Item) => item.type === "equalValue" && item.expected === null;
  const hasOther = (field: unknown) =>
    items.some(other => other.field === field && !isNullBranch(other));
  const nullable = new Set(
    items.filter(item => isNullBranch(item) && hasOther(item.field)).map(item => item.field),
  );
  return items
    .filter(item => !(isNullBranch(item) && nullable.has(item.field)))
    .map(item =>
      nullable.has(item.field) && typeof item.message === "string"
        ? { ...item, message: `${item.message.replace(/\.$/, "")}, or null.` }
        : item,
    );
}

/**
 * fastest-validator items carry `actual` (the rejected value, perhaps a password) and
 * moleculer adds `nodeID`/`action`: the client gets field, type, message and expectation only,
 * each message saying what is wrong with what was sent.
 */
function validationItems(data: unknown): unknown {
  if (!Array.isArray(data)) return data;
  const items = data.map(item => {
    if (item === null || typeof item !== "object") return item;
    const { type, field, expected } = item as Item;
    const out: Item = { type, field, message: clearerMessage(item as Item) };
    // An unknown field ($$strict): `actual` names the field, not a value the client sent.
    if (type === "objectStrict") out.actual = (item as Item).actual;
    if (expected !== undefined && !(typeof field === "string" && SECRET_FIELD.test(field))) {
      out.expected = expected;
    }
    return out;
  });
  const objects = items.filter((item): item is Item => item !== null && typeof item === "object");
  return objects.length === items.length ? foldNullAlternatives(objects) : items;
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
  if (err instanceof ContractError) {
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
