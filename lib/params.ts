import type { ParamsOf } from "./params-of";

/**
 * The parameter rules every service's actions share (fastest-validator), so a path id or a
 * page of a list is checked the same way on every route.
 */

/** A path `:id`: a UUID, or a slug at most; anything longer is no id of ours. */
export const idRule = { type: "string", min: 1, max: 64 } as const;

/** The params of an action that takes the path's id and nothing else. */
export const idParam = { $$strict: true, id: idRule } as const;

/** What an action with `idParam` reads. */
export type IdInput = ParamsOf<typeof idParam>;

/**
 * `?page=&pageSize=` of every list (api.md "Lists"). The gateway lowers a larger page size to
 * the maximum before the call; a page past 100 000 is an offset no list of ours needs.
 */
export const pageParams = {
  page: { type: "number", integer: true, min: 1, max: 100_000, convert: true, default: 1 },
  pageSize: { type: "number", integer: true, min: 1, max: 100, convert: true, default: 20 },
} as const;

/** What a list action reads of `pageParams`. */
export type PageInput = ParamsOf<typeof pageParams>;

/** The answer's paging fields for `total` rows (api.md "Lists"). */
export function pageOf(total: number, page: number, pageSize: number) {
  return { total, page, pageSize, totalPages: Math.ceil(total / pageSize) };
}
