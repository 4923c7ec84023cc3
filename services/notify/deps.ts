import type { Logger } from "moleculer";
import type { Sequelize, Transaction } from "sequelize";
import type { LinkTokens } from "./link-tokens";
import type { MailBuilder } from "./mail-builder";
import type { PushStore } from "./push-store";
import type { SmsSender } from "./sms";
import type { NotifyStore } from "./store";
import type { VapidKeys } from "./vapid";

/** notify's schema, for the use cases that run their statements over `lib/db/sql.ts`. */
interface NotifyDb {
  sequelize: Sequelize;
  schema: string;
}

/** What notify's request use cases need from the service around them (built once in `created`). */
export interface NotifyDeps {
  store: NotifyStore;
  db: NotifyDb;
  /** Signs and checks the links in mails (open pixel, clicks, unsubscribe). */
  tokens: LinkTokens;
  /** The mail builder, there once the templates compiled (`ready`, awaited by `started`). */
  builder: () => MailBuilder;
  withTransaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  /** The app's page of notification settings, where the unsubscribe pages point. */
  preferencesUrl: string;
  /** Web Push: the devices' subscriptions and the VAPID keys (null: Web Push is off here). */
  push: { store: PushStore; vapid: VapidKeys | null; allowHttp: boolean };
  /** Phone verification: the SMS sender, and the key the codes are kept under (an HMAC). */
  phone: { sms: SmsSender; key: Buffer };
  now: () => Date;
  logger: Logger;
}
