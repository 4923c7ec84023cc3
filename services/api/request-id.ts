import { randomFillSync } from "node:crypto";
import { v7 as uuidv7 } from "uuid";

/** Safe to put in a header, a log line and a Moleculer packet; nothing a log viewer would interpret. */
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Random bytes for fresh ids, drawn from the system's generator 256 ids at a time: uuid's own
 * generator asks WebCrypto for 16 bytes on every id, a cost every request without an id paid.
 */
const IDS_PER_FILL = 256;
const pool = new Uint8Array(16 * IDS_PER_FILL);
let drawn = IDS_PER_FILL;

function randomForId(): Uint8Array {
  if (drawn === IDS_PER_FILL) {
    randomFillSync(pool);
    drawn = 0;
  }
  drawn += 1;
  return pool.subarray(16 * (drawn - 1), 16 * drawn);
}

/** The caller's X-Request-Id when it is safe to carry, else a fresh one (a UUID v7). */
export function acceptRequestId(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  if (value !== undefined && SAFE_REQUEST_ID.test(value)) return value;
  return uuidv7({ random: randomForId() });
}

/** Idempotency-Key: opaque, bounded, printable; anything else is dropped rather than passed on. */
export function acceptIdempotencyKey(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  return /^[\x21-\x7e]{1,255}$/.test(value) ? value : undefined;
}
