import type { Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { LinkTokens } from "./link-tokens";
import type { MailBuilder } from "./mail-builder";
import type { NotifyStore } from "./store";

/** What notify's request use cases need from the service around them (built once in `started`). */
export interface NotifyDeps {
  store: NotifyStore;
  /** Signs and checks the links in mails (open pixel, clicks, unsubscribe). */
  tokens: LinkTokens;
  builder: MailBuilder;
  withTransaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  /** The app's page of notification settings, where the unsubscribe pages point. */
  preferencesUrl: string;
  now: () => Date;
  logger: Logger;
}
