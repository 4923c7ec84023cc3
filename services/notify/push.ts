import { v7 as uuidv7 } from "uuid";
import { validationError, type FieldProblem } from "../../lib/errors";
import type { PushSubscriptionBody } from "../../models/push.model";
import { pushNotConfigured, pushSubscriptionNotFound } from "./errors";
import type { PushStore } from "./push-store";
import type { VapidKeys } from "./vapid";

/** The Web Push use cases of notify: the public key, and a learner's subscriptions per device. */

export interface PushDeps {
  store: PushStore;
  /** Null: Web Push is off on this node (cluster mode without VAPID keys). */
  vapid: VapidKeys | null;
  allowHttp: boolean;
}

function configured(deps: PushDeps): VapidKeys {
  if (!deps.vapid) throw pushNotConfigured();
  return deps.vapid;
}

export function vapidPublicKey(deps: PushDeps): { publicKey: string } {
  return { publicKey: configured(deps).publicKey };
}

/** What the browser sent, checked beyond its shape: a push service URL, a P-256 point, 16 bytes of auth. */
function problemsOf(body: PushSubscriptionBody, allowHttp: boolean): FieldProblem[] {
  const problems: FieldProblem[] = [];
  let endpoint: URL | undefined;
  try {
    endpoint = new URL(body.endpoint);
  } catch {
    endpoint = undefined;
  }
  const schemes = allowHttp ? ["https:", "http:"] : ["https:"];
  if (!endpoint || !schemes.includes(endpoint.protocol) || endpoint.username || endpoint.password) {
    problems.push({
      field: "endpoint",
      type: "url",
      message: "The 'endpoint' field must be the push service's https URL.",
    });
  }
  const point = Buffer.from(body.keys.p256dh, "base64url");
  if (point.length !== 65 || point[0] !== 0x04) {
    problems.push({
      field: "keys.p256dh",
      type: "string",
      message: "The 'keys.p256dh' field must be an uncompressed P-256 public key (65 bytes).",
    });
  }
  if (Buffer.from(body.keys.auth, "base64url").length !== 16) {
    problems.push({
      field: "keys.auth",
      type: "string",
      message: "The 'keys.auth' field must be a 16-byte authentication secret.",
    });
  }
  return problems;
}

export async function subscribePush(
  deps: PushDeps,
  userId: string,
  body: PushSubscriptionBody,
): Promise<{ id: string }> {
  configured(deps);
  const problems = problemsOf(body, deps.allowHttp);
  if (problems.length > 0) throw validationError(problems);
  const id = await deps.store.subscribe(uuidv7(), userId, {
    endpoint: body.endpoint,
    keys: body.keys,
  });
  return { id };
}

export async function unsubscribePush(deps: PushDeps, userId: string, id: string): Promise<void> {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  if (!uuid.test(id) || !(await deps.store.unsubscribe(userId, id))) {
    throw pushSubscriptionNotFound(id);
  }
}
