import { v7 as uuidv7 } from "uuid";
import { validationError, type FieldProblem } from "../../lib/errors";
import type { IdInput } from "../../lib/params";
import type { AuthUser } from "../../models/auth.model";
import type { PushSubscriptionBody } from "../../models/push.model";
import type { NotifyDeps } from "./deps";
import { pushNotConfigured, pushSubscriptionNotFound } from "./errors";
import type { VapidKeys } from "./vapid";

/** The Web Push use cases of notify: the public key, and a learner's subscriptions per device. */

type PushDeps = Pick<NotifyDeps, "push">;

function configured(deps: PushDeps): VapidKeys {
  if (!deps.push.vapid) throw pushNotConfigured();
  return deps.push.vapid;
}

/** GET /push/vapid-public-key */
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

/** POST /me/push-subscriptions */
export async function subscribePush(
  deps: PushDeps,
  body: PushSubscriptionBody,
  actor: AuthUser,
): Promise<{ id: string }> {
  configured(deps);
  const problems = problemsOf(body, deps.push.allowHttp);
  if (problems.length > 0) throw validationError(problems);
  const id = await deps.push.store.subscribe(uuidv7(), actor.id, {
    endpoint: body.endpoint,
    keys: body.keys,
  });
  return { id };
}

/** DELETE /me/push-subscriptions/:id */
export async function unsubscribePush(
  deps: PushDeps,
  input: IdInput,
  actor: AuthUser,
): Promise<void> {
  const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  if (!uuid.test(input.id) || !(await deps.push.store.unsubscribe(actor.id, input.id))) {
    throw pushSubscriptionNotFound(input.id);
  }
}
