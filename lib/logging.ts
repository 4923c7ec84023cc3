import util from "node:util";
import type { LoggerConfig } from "moleculer";
import type { AppConfig } from "./config";
import { currentRequestScope } from "./request-context";

/** Keys whose values are never written to a log line, whatever logged them. */
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|otp|hash|private|api[-_]?key/i;

export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > 4) return value;
  if (value instanceof Error) {
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  }
  if (Array.isArray(value)) return value.map(item => redact(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? "[redacted]" : redact(inner, depth + 1);
  }
  return out;
}

/** `scheme://user:password@host` in any text (an error naming a connection URL) → `user:***@`. */
function scrubUrlCredentials(text: string): string {
  return text.replace(/(\/\/[^\s:/@]+:)[^\s@/]+@/g, "$1***@");
}

export function message(args: unknown[]): string {
  return scrubUrlCredentials(
    args
      .map(arg =>
        typeof arg === "string"
          ? arg
          : util.inspect(redact(arg), { depth: 4, breakLength: Infinity }),
      )
      .join(" "),
  );
}

type Bindings = Record<string, unknown> | undefined;

/**
 * One JSON object per line with the fields an operator filters on: level, nodeID,
 * service, and — when written while handling a request — requestId and action.
 */
function jsonFormatter(type: string, args: unknown[], bindings: Bindings): string[] {
  const scope = currentRequestScope();
  const line: Record<string, unknown> = {
    time: new Date().toISOString(),
    level: type,
    nodeID: bindings?.nodeID,
    service: bindings?.svc ?? bindings?.mod,
    msg: message(args),
  };
  if (scope?.requestId) line.requestId = scope.requestId;
  if (scope?.action) line.action = scope.action;
  if (scope?.event) line.event = scope.event;
  return [JSON.stringify(line)];
}

function prettyFormatter(type: string, args: unknown[], bindings: Bindings): string[] {
  const scope = currentRequestScope();
  const where = `${String(bindings?.nodeID ?? "")}/${String(bindings?.svc ?? bindings?.mod ?? "")}`;
  const request = scope?.requestId ? ` [${scope.requestId.slice(0, 8)}]` : "";
  return [
    `${new Date().toISOString()} ${type.toUpperCase().padEnd(5)} ${where}${request}: ${message(args)}`,
  ];
}

export function loggerOptions(cfg: AppConfig): LoggerConfig {
  return {
    type: "Console",
    options: {
      level: cfg.logLevel,
      colors: cfg.logFormat === "pretty",
      formatter: cfg.logFormat === "json" ? jsonFormatter : prettyFormatter,
    },
  } as LoggerConfig;
}
