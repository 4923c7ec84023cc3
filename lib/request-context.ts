import { AsyncLocalStorage } from "node:async_hooks";

/** What every log line written while handling a request should carry. */
export interface RequestScope {
  requestId?: string;
  action?: string;
  event?: string;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();

export function currentRequestScope(): RequestScope | undefined {
  return requestScope.getStore();
}
