import { v7 as uuidv7 } from "uuid";

/** Safe to put in a header, a log line and a Moleculer packet; nothing a log viewer would interpret. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's X-Request-Id when it is safe to carry, else a fresh one. */
export function acceptRequestId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && SAFE_REQUEST_ID.test(value)) return value;
  return uuidv7();
}

/** Idempotency-Key: opaque, bounded, printable; anything else is dropped rather than passed on. */
export function acceptIdempotencyKey(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  return /^[\x21-\x7e]{1,255}$/.test(value) ? value : undefined;
}
