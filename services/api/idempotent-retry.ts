import { Errors } from "moleculer";

/**
 * A request that carries an Idempotency-Key may be sent again whatever it does: the
 * service answers a repeat from its record of the first (api.md "Idempotency"). So when
 * the node handling it vanished with the request in flight (killed, frozen, cut off), the
 * gateway sends it once more to another node instead of failing the client: if the first
 * attempt committed, the repeat replays its answer; if not, the repeat does the work.
 */

/** The node serving the call went away before answering; another node may take it. */
export function lostWithNode(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const type = (err as Errors.MoleculerError).type;
  return (
    err instanceof Errors.RequestRejectedError ||
    err instanceof Errors.ServiceNotAvailableError ||
    type === "REQUEST_REJECTED" ||
    type === "NODE_IS_UNAVAILABLE" ||
    type === "SERVICE_NOT_AVAILABLE"
  );
}

export interface IdempotentRetryOptions {
  /** Repeats after the first attempt. Default 2. */
  retries?: number;
  /** Wait before the first repeat, doubled for each further one. Default 100 ms. */
  delayMs?: number;
}

/** Runs `attempt(n)` (n = 0 first) again while it fails with `lostWithNode`. */
export async function retryIdempotent<T>(
  attempt: (n: number) => Promise<T>,
  opts: IdempotentRetryOptions = {},
): Promise<T> {
  const retries = opts.retries ?? 2;
  const delayMs = opts.delayMs ?? 100;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= retries || !lostWithNode(err)) throw err;
      await new Promise(resolve => setTimeout(resolve, delayMs * 2 ** n));
    }
  }
}
