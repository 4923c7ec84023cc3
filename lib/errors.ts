import { Errors } from "moleculer";

/**
 * The errors every part raises in the contract's shape (shared/design/api.md, "Errors":
 * `{name, message, code, type, data?}`). A service's own errors live in its `errors.ts`
 * and are built from these; the 401 and 403 of every action are built here only.
 */

/** A client error whose `name` is part of the answer (`UnauthorizedError`, `ForbiddenError`, …). */
export class ContractError extends Errors.MoleculerClientError {
  constructor(name: string, message: string, code: number, type: string, data?: unknown) {
    super(message, code, type, data);
    this.name = name;
  }
}

export const unauthenticated = (message = "A valid access token is required"): ContractError =>
  new ContractError("UnauthorizedError", message, 401, "UNAUTHORIZED");

export const forbidden = (): ContractError =>
  new ContractError("ForbiddenError", "You may not do this", 403, "FORBIDDEN");

/** One problem with a field, in fastest-validator's shape, so every 422 of the API reads the same. */
export interface FieldProblem {
  field: string;
  /** fastest-validator's rule name; a problem no rule names (an answer sheet's) has none. */
  type?: string;
  message: string;
  actual?: unknown;
  expected?: unknown;
}

export function validationError(
  problems: readonly FieldProblem[],
  message = "Parameters validation error!",
): Errors.ValidationError {
  return new Errors.ValidationError(message, "VALIDATION_ERROR", problems);
}
