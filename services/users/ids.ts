import { userNotFound } from "./errors";

/** Ids of this service's rows are UUIDs: anything else names nothing (and never reaches SQL). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A user id from a path: one that cannot exist answers like one that does not. */
export function existingUserId(id: string): string {
  if (!UUID.test(id)) throw userNotFound(id);
  return id;
}
