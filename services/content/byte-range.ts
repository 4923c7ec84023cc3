/**
 * What a `Range` request header asks of a file of `size` bytes (RFC 9110 §14): the whole
 * file, one part of it, or nothing it has. Only one `bytes` range is served; a header this
 * does not understand, several ranges, or an `If-Range` (we send no validator it could
 * match) get the whole file, which the RFC allows a server to answer instead.
 */
export type ByteRange =
  { kind: "whole" } | { kind: "part"; start: number; end: number } | { kind: "unsatisfiable" };

const WHOLE: ByteRange = { kind: "whole" };

export function byteRangeOf(
  range: string | undefined,
  ifRange: string | undefined,
  size: number,
): ByteRange {
  if (range === undefined || ifRange !== undefined) return WHOLE;
  const spec = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(range);
  if (!spec) return WHOLE;
  const [, first, last] = spec;
  if (first === "" && last === "") return WHOLE;
  if (first === "") {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return { kind: "unsatisfiable" };
    return { kind: "part", start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  if (last !== "" && Number(last) < start) return WHOLE;
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: "part", start, end };
}
