import type { XapiStatement } from "../../models/xapi.model";

/**
 * The statements resource of an xAPI 1.0.3 LRS (XAPI_LRS_URL, credentials in its user-info).
 * A failure throws: the durable event that asked is retried, then dead-lettered. Statement
 * ids are stable, so a statement the LRS already holds answers 409 and counts as sent.
 */

export interface Lrs {
  send(statements: XapiStatement[]): Promise<void>;
}

export function lrsAt(endpoint: string, timeoutMs = 10_000): Lrs {
  const url = new URL(endpoint);
  const credentials =
    url.username || url.password
      ? `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString("base64")}`
      : undefined;
  url.username = "";
  url.password = "";
  const statementsUrl = new URL("statements", url.href.endsWith("/") ? url.href : `${url.href}/`);
  return {
    async send(statements) {
      if (statements.length === 0) return;
      const res = await fetch(statementsUrl, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-Experience-API-Version": "1.0.3",
          ...(credentials ? { Authorization: credentials } : {}),
        },
        body: JSON.stringify(statements),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await res.arrayBuffer();
      // The URL without its credentials: nothing secret reaches the error or the logs.
      if (!res.ok && res.status !== 409)
        throw new Error(`LRS ${statementsUrl.href} answered ${res.status}`);
    },
  };
}
