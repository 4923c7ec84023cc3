import type { AuthUser } from "../../models/auth.model";
import { toNotificationView, type NotificationPage } from "../../models/notification.model";
import { pageOf, type PageInput } from "../../lib/params";
import type { NotifyDeps } from "./deps";
import { notificationNotFound } from "./errors";

/** A learner's in-app notifications: the list, the unread count, marking read. */

type InboxDeps = Pick<NotifyDeps, "store">;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** GET /me/notifications */
export async function listNotifications(
  deps: InboxDeps,
  input: PageInput & { unread?: boolean },
  actor: AuthUser,
): Promise<NotificationPage> {
  const { page, pageSize } = input;
  const result = await deps.store.listNotifications(
    actor.id,
    page,
    pageSize,
    input.unread === true,
  );
  return {
    rows: result.rows.map(toNotificationView),
    ...pageOf(result.total, page, pageSize),
    unread: result.unread,
  };
}

export async function unreadCount(deps: InboxDeps, actor: AuthUser): Promise<{ unread: number }> {
  return { unread: await deps.store.unreadCount(actor.id) };
}

/** POST /me/notifications/:id/read */
export async function markRead(
  deps: InboxDeps,
  input: { id: string },
  actor: AuthUser,
): Promise<void> {
  // Someone else's id answers exactly like an unknown one.
  if (!UUID.test(input.id) || !(await deps.store.markRead(actor.id, input.id))) {
    throw notificationNotFound(input.id);
  }
}

/** POST /me/notifications/read-all */
export async function markAllRead(deps: InboxDeps, actor: AuthUser): Promise<void> {
  await deps.store.markAllRead(actor.id);
}
