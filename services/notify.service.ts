import { createdSinceParams, type MailOutcomes } from "../models/analytics.model";
import type { Context, ServiceSchema } from "moleculer";
import crypto from "node:crypto";
import { v7 as uuidv7 } from "uuid";
import { actorOf } from "../lib/auth/guard";
import { configOf } from "../lib/config";
import { idParam, pageParams, type IdInput } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";
import { redirectTo } from "../lib/rest-answers";
import { DbMixin, type DbServiceThis } from "../mixins/db.mixin";
import {
  DurableEvents,
  durableEventsOf,
  type BeforeDurableBatch,
  type DurableEventBatchHandlers,
  type DurableEventHandlers,
  type DurableEventsMethods,
} from "../mixins/durable-events.mixin";
import type { RequestMeta } from "../models/auth.model";
import { EMAIL_STATUSES, EMAIL_TEMPLATES } from "../models/email.model";
import {
  preferencesParams,
  type NotificationPage,
  type NotificationPreferences,
} from "../models/notification.model";
import { LIVE_DELIVERY_EVENT, type LiveDelivery, type LiveMessage } from "../models/live.model";
import { consumers, usersUpdated, type NotifyRuntime } from "./notify/consumers";
import type { NotifyDeps } from "./notify/deps";
import * as inbox from "./notify/inbox";
import * as links from "./notify/mail-links";
import { answerLink } from "./notify/mail-links";
import { listEmails, mailOutcomes } from "./notify/mail-records";
import { addLiveMessage, liveMessagesSince, pruneLiveMessages } from "./notify/live-store";
import { pushSubscriptionParams } from "../models/push.model";
import { subscribePush, unsubscribePush, vapidPublicKey } from "./notify/push";
import { PushSender } from "./notify/push-sender";
import { PushStore } from "./notify/push-store";
import { changePreferences, preferencesOf, readPreferences } from "./notify/preferences";
import { loadVapidKeys } from "./notify/vapid";
import { deliverableAt, localeOf, saveDeliverySettings } from "./notify/quiet-hours";
import { Texts } from "./notify/texts";
import { requestPhoneCode, verifyPhone } from "./notify/phone";
import { createSmsSender } from "./notify/sms";
import { deriveLinkKey, LinkTokens } from "./notify/link-tokens";
import { appLinks, MailBuilder } from "./notify/mail-builder";
import { createMailer, type Mailer } from "./notify/mailer";
import { notifyMigrations } from "./notify/migrations";
import { previewMail, previewParams } from "./notify/preview";
import { fetchMissingRecipients, recipientOf, type AbsentUsers } from "./notify/recipients";
import {
  DEFAULT_SENDER_OPTIONS,
  meteredSender,
  type MailSender,
  type SenderOptions,
} from "./notify/sender";
import { NotifyStore } from "./notify/store";
import { DigestStore } from "./notify/digest-store";
import { everyInterval, runDigestRound, type DigestRun } from "./notify/digests";
import { MailTemplates } from "./notify/templates";

/**
 * notify: turns durable domain events into email (queued in the event's transaction,
 * delivered by a sender loop on every node) and in-app notifications; tracks opens and
 * clicks; keeps each user's email preferences. Routes: the Notifications table of
 * shared/design/api.md (services/api/routes/notifications.routes.ts).
 */

export interface NotifySettings {
  sender: Omit<SenderOptions, "nodeId" | "from">;
  limits: NotifyRuntime["limits"];
  /** How long notify waits for users.profiles before the event is retried later. */
  profileTimeoutMs: number;
  /** How often each node looks for digests due; the local hour the digest morning opens. */
  digest: { intervalMs: number; morningHour: number; progressTimeoutMs: number };
}

interface NotifyVars {
  store: NotifyStore;
  /** Templates compiled, key derived, mailer built: consumers may run before `started` finishes. */
  ready: Promise<void>;
  tokens: LinkTokens;
  templates: MailTemplates;
  builder: MailBuilder;
  mailer: Mailer;
  sender: MailSender;
  /** users.profiles answered "no such user" for these, recently (services/notify/recipients.ts). */
  absentUsers: AbsentUsers;
  stopLivePrune?: () => void;
  pushSender?: PushSender;
  texts: Texts;
  digests: DigestStore;
  /** What "now" is for the digest schedule: tests move it instead of waiting. */
  clock: () => Date;
  stopDigests?: () => void;
  /** What the request use cases are given (built once in `created`). */
  deps: NotifyDeps;
  /** What the consumers are given (built once the templates are ready). */
  runtime: NotifyRuntime;
}

interface NotifyMethods {
  prepare(): Promise<void>;
  /** What the consumers are given: built once, at the end of `prepare`. */
  buildRuntime(): NotifyRuntime;
  runDigests(at?: Date): Promise<DigestRun>;
  live: NotifyRuntime["live"];
}

type NotifyThis = DbServiceThis &
  DurableEventsMethods &
  NotifyVars &
  NotifyMethods & { settings: NotifySettings };
type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

const exportDataParams = { $$strict: true, userId: { type: "string", min: 1, max: 64 } } as const;
const notificationsParams = {
  $$strict: true,
  ...pageParams,
  unread: { type: "boolean", convert: true, optional: true },
} as const;
const liveSinceParams = {
  $$strict: true,
  userId: { type: "string", min: 1, max: 128 },
  since: { type: "uuid" },
} as const;
const phoneParams = {
  $$strict: true,
  phone: { type: "string", pattern: "^\\+[1-9]\\d{7,14}$" },
} as const;
const phoneCodeParams = { $$strict: true, code: { type: "string", pattern: "^\\d{6}$" } } as const;
const runDigestsParams = {
  $$strict: true,
  at: { type: "date", convert: true, optional: true },
} as const;
/** A mail link's signed token (services/notify/link-tokens.ts). */
const tokenParams = { token: { type: "string", min: 1, max: 4096 } } as const;
const emailsParams = {
  $$strict: true,
  ...pageParams,
  to: { type: "string", min: 1, max: 320, optional: true },
  template: { type: "enum", values: [...EMAIL_TEMPLATES], optional: true },
  status: { type: "enum", values: [...EMAIL_STATUSES], optional: true },
} as const;

const LIVE_PRUNE_INTERVAL_MS = 10 * 60_000;
/** A push the device could not take within a day is news no more. */
const PUSH_TTL_SECONDS = 24 * 3600;

/** `durableEvents` is read by the DurableEvents mixin; moleculer's own schema type does not know it. */
type NotifySchema = ServiceSchema<NotifySettings, NotifyMethods, NotifyVars, NotifyThis> & {
  durableEvents: DurableEventHandlers<NotifyThis>;
  durableEventBatches: DurableEventBatchHandlers<NotifyThis>;
  beforeDurableBatch: BeforeDurableBatch<NotifyThis>;
};

const NotifyService: NotifySchema = {
  name: "notify",

  mixins: [
    DbMixin({
      schema: "notify",
      migrations: notifyMigrations,
      sync: false,
    }),
    DurableEvents(),
  ],

  settings: {
    sender: { ...DEFAULT_SENDER_OPTIONS },
    limits: { resetMailsPerHour: 5, verifyReminderAfterMs: 24 * 3600_000 },
    profileTimeoutMs: 3000,
    digest: { intervalMs: 5 * 60_000, morningHour: 8, progressTimeoutMs: 5000 },
  },

  // Each consumer of services/notify/consumers.ts, with this node's runtime once it is ready.
  durableEvents: durableEventsOf(consumers, async (self: NotifyThis) => {
    await self.ready;
    return self.runtime;
  }),

  // The same effects as durableEvents for a run of events in one consumer transaction.
  durableEventBatches: {
    async "user.updated"(this: NotifyThis, events, t) {
      await this.ready;
      await usersUpdated(this.runtime, events, t);
    },
  },

  // users.profiles (up to 3 s) is asked here, before the batch transaction opens, never inside it.
  async beforeDurableBatch(this: NotifyThis, events) {
    await fetchMissingRecipients(
      {
        store: this.store,
        broker: this.broker,
        logger: this.logger,
        timeoutMs: this.settings.profileTimeoutMs,
        absent: this.absentUsers,
      },
      events,
    );
  },

  actions: {
    /** What notify holds about a user (mails, notifications, preferences): users' GET /me/export. */
    exportData: {
      internal: true,
      params: exportDataParams,
      handler(ctx: Ctx<ParamsOf<typeof exportDataParams>>): Promise<Record<string, unknown[]>> {
        return this.store.exportUser(ctx.params.userId);
      },
    },

    /** GET /me/notifications */
    notifications: {
      auth: true,
      params: notificationsParams,
      handler(ctx: Ctx<ParamsOf<typeof notificationsParams>>): Promise<NotificationPage> {
        return inbox.listNotifications(this.deps, ctx.params, actorOf(ctx));
      },
    },

    /** A reconnecting socket's missed messages (the gateway asks, for `GET /live?since=`). */
    liveSince: {
      internal: true,
      params: liveSinceParams,
      async handler(ctx: Ctx<ParamsOf<typeof liveSinceParams>>): Promise<LiveMessage[]> {
        return liveMessagesSince(
          this.sequelize,
          this.dbSchema,
          ctx.params.userId,
          ctx.params.since,
        );
      },
    },

    /** GET /push/vapid-public-key: the applicationServerKey a browser subscribes with. */
    vapidPublicKey: {
      params: {},
      handler(): { publicKey: string } {
        return vapidPublicKey(this.deps);
      },
    },

    /** POST /me/push-subscriptions → 201 {id}: this device gets the caller's notifications. */
    addPushSubscription: {
      auth: true,
      params: pushSubscriptionParams,
      handler(ctx: Ctx<ParamsOf<typeof pushSubscriptionParams>>): Promise<{ id: string }> {
        return subscribePush(this.deps, ctx.params, actorOf(ctx));
      },
    },

    /** DELETE /me/push-subscriptions/:id → 204 */
    removePushSubscription: {
      auth: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>): Promise<void> {
        await unsubscribePush(this.deps, ctx.params, actorOf(ctx));
        ctx.meta.$statusCode = 204;
      },
    },

    /** The caller's unread count, for the gateway's dashboard. */
    unreadCount: {
      auth: true,
      internal: true,
      handler(ctx: Ctx): Promise<{ unread: number }> {
        return inbox.unreadCount(this.deps, actorOf(ctx));
      },
    },

    /** POST /me/notifications/:id/read → 204 */
    markRead: {
      auth: true,
      params: idParam,
      async handler(ctx: Ctx<IdInput>): Promise<void> {
        await inbox.markRead(this.deps, ctx.params, actorOf(ctx));
        ctx.meta.$statusCode = 204;
      },
    },

    /** POST /me/phone {phone} → 202 {phone, verified: false, codeExpiresAt}: a 6-digit code by SMS. */
    setPhone: {
      auth: true,
      params: phoneParams,
      async handler(ctx: Ctx<ParamsOf<typeof phoneParams>>) {
        const answer = await requestPhoneCode(this.deps, ctx.params, actorOf(ctx));
        ctx.meta.$statusCode = 202;
        return answer;
      },
    },

    /** POST /me/phone/verify {code} → 204 */
    verifyPhone: {
      auth: true,
      params: phoneCodeParams,
      async handler(ctx: Ctx<ParamsOf<typeof phoneCodeParams>>): Promise<void> {
        await verifyPhone(this.deps, ctx.params, actorOf(ctx));
        ctx.meta.$statusCode = 204;
      },
    },

    /** POST /me/notifications/read-all → 204 */
    markAllRead: {
      auth: true,
      params: { $$strict: true },
      async handler(ctx: Ctx): Promise<void> {
        await inbox.markAllRead(this.deps, actorOf(ctx));
        ctx.meta.$statusCode = 204;
      },
    },

    /** GET /me/notification-preferences */
    getPreferences: {
      auth: true,
      handler(ctx: Ctx): Promise<NotificationPreferences> {
        return readPreferences(this.deps, actorOf(ctx));
      },
    },

    /** PUT /me/notification-preferences (channels and categories left out keep their value) */
    updatePreferences: {
      auth: true,
      params: preferencesParams,
      handler(ctx: Ctx<ParamsOf<typeof preferencesParams>>): Promise<NotificationPreferences> {
        return changePreferences(this.deps, ctx.params, actorOf(ctx));
      },
    },

    /** Operators (REPL) and tests run a digest round now (or at `at`); the timer does it every few minutes. */
    runDigests: {
      internal: true,
      params: runDigestsParams,
      handler(ctx: Ctx<ParamsOf<typeof runDigestsParams>>): Promise<DigestRun> {
        return this.runDigests(ctx.params.at);
      },
    },

    /** GET /notifications/open/:token.gif — always the pixel, whatever the token. */
    open: {
      params: tokenParams,
      async handler(ctx: Ctx<ParamsOf<typeof tokenParams>>): Promise<Buffer> {
        return answerLink(ctx, await links.openPixel(this.deps, ctx.params));
      },
    },

    /** GET /notifications/click/:token — records the click, then redirects to the signed target. */
    click: {
      params: tokenParams,
      async handler(ctx: Ctx<ParamsOf<typeof tokenParams>>): Promise<void> {
        redirectTo(ctx, await links.followClick(this.deps, ctx.params));
        ctx.meta.$responseHeaders = { "Cache-Control": "no-store" };
      },
    },

    /** GET /notifications/unsubscribe/:token — a page that asks; opening the link changes nothing. */
    unsubscribePage: {
      params: tokenParams,
      async handler(ctx: Ctx<ParamsOf<typeof tokenParams>>): Promise<string> {
        return answerLink(ctx, await links.unsubscribePage(this.deps, ctx.params));
      },
    },

    /**
     * POST /notifications/unsubscribe/:token — RFC 8058 one-click, or the page's button; no
     * login: the token is the proof. A browser (Accept: text/html) gets a page, others JSON.
     */
    unsubscribe: {
      params: tokenParams,
      async handler(
        ctx: Ctx<ParamsOf<typeof tokenParams>>,
      ): Promise<{ unsubscribed: true; category: string } | string> {
        const accept = ctx.meta.requestHeaders?.accept;
        return answerLink(ctx, await links.unsubscribe(this.deps, ctx.params, accept));
      },
    },

    /** GET /emails (admin): the record of every mail, filtered. */
    emails: {
      auth: true,
      roles: ["admin"],
      params: emailsParams,
      handler(ctx: Ctx<ParamsOf<typeof emailsParams>>) {
        return listEmails(this.deps, ctx.params);
      },
    },

    /** For progress's analytics rebuild: the mails created since a date and their outcomes, a page at a time. */
    mailOutcomes: {
      internal: true,
      params: createdSinceParams,
      handler(ctx: Ctx<ParamsOf<typeof createdSinceParams>>): Promise<MailOutcomes[]> {
        return mailOutcomes(this.deps, ctx.params);
      },
    },

    /**
     * Renders a template with sample (or given) values in a locale, for authors and designers:
     *   mol $ call notify.preview --template weekly-digest --locale es
     * (The guard admits that call, which carries no user; a caller's user must hold a role.)
     */
    preview: {
      internal: true,
      roles: ["admin", "author"],
      params: previewParams,
      handler(ctx: Ctx<ParamsOf<typeof previewParams>>) {
        return previewMail(this.deps.builder(), ctx.params);
      },
    },
  },

  methods: {
    async prepare(): Promise<void> {
      const cfg = configOf(this.broker);
      this.templates = await MailTemplates.load();
      this.texts = Texts.load();
      this.builder = new MailBuilder(this.templates, this.tokens, appLinks(cfg.publicUrl));
      this.runtime = this.buildRuntime();
    },

    buildRuntime(): NotifyRuntime {
      return {
        store: this.store,
        digests: this.digests,
        builder: this.builder,
        logger: this.logger,
        limits: this.settings.limits,
        recipientOf: (userId, t) =>
          recipientOf({ store: this.store, absent: this.absentUsers }, userId, t),
        deliverAfterCommit: t => t.afterCommit(() => this.sender.kick()),
        live: (userId, type, data, t) => this.live(userId, type, data, t),
        preferencesOf: (userId, t) => preferencesOf(this.deps, userId, t),
        sayTo: async (userId, t) =>
          this.texts.for(await localeOf(this.sequelize, this.dbSchema, userId, t)),
        deliverableAt: (userId, t) => deliverableAt(this.sequelize, this.dbSchema, userId, t),
        saveDeliverySettings: (change, t) =>
          saveDeliverySettings(this.sequelize, this.dbSchema, change, t),
        push: async (userId, eventId, push, t) => {
          if (!this.deps.push.vapid) return;
          const notBefore = await deliverableAt(this.sequelize, this.dbSchema, userId, t);
          const queued = await this.deps.push.store.queue(
            userId,
            eventId,
            { ...push, ttlSeconds: PUSH_TTL_SECONDS, notBefore },
            t,
          );
          if (queued > 0) t.afterCommit(() => this.pushSender?.kick());
        },
      };
    },

    async live(userId, type, data, t) {
      const message: LiveMessage = { id: uuidv7(), type, at: new Date().toISOString(), data };
      await addLiveMessage(this.sequelize, this.dbSchema, userId, message, t);
      const delivery: LiveDelivery = { userId, message };
      // Plain Moleculer events may be lost (a gateway restarting): the row above is the replay.
      t.afterCommit(() => {
        void this.broker.broadcast(LIVE_DELIVERY_EVENT, delivery, { groups: ["api"] });
      });
    },

    async runDigests(at?: Date): Promise<DigestRun> {
      await this.ready;
      const run = await runDigestRound(
        {
          digests: this.digests,
          builder: this.builder,
          logger: this.logger,
          morningHour: this.settings.digest.morningHour,
          recipient: userId => this.store.recipient(userId),
          dueReviews: async (userId, now) =>
            (
              await this.broker.call<{ due: number }, { userId: string; at: Date }>(
                "progress.dueReviewCount",
                { userId, at: now },
                { timeout: this.settings.digest.progressTimeoutMs },
              )
            ).due,
          withTransaction: fn => this.withTransaction(fn),
          queueMail: async (mail, t) => {
            const queued = await this.store.queueMail(mail, { transaction: t });
            if (queued) t.afterCommit(() => this.sender.kick());
            return queued;
          },
        },
        at ?? this.clock(),
      );
      if (run.sent.length > 0) this.logger.info(`digests queued for ${run.sent.length} learner(s)`);
      return run;
    },
  },

  created() {
    this.store = new NotifyStore(
      this.sequelize,
      this.dbSchema,
      (outcome, t) =>
        this.emitDurable("notify.email.outcome", outcome, { transaction: t }).then(() => undefined),
      (change, t) =>
        this.emitDurable("notify.inbox.changed", change, { transaction: t }).then(() => undefined),
    );
    this.digests = new DigestStore(this.sequelize, this.dbSchema);
    this.clock = () => new Date();
    const cfg = configOf(this.broker);
    this.tokens = new LinkTokens(deriveLinkKey(cfg));
    this.deps = {
      store: this.store,
      db: { sequelize: this.sequelize, schema: this.dbSchema },
      tokens: this.tokens,
      builder: () => this.builder,
      withTransaction: fn => this.withTransaction(fn),
      preferencesUrl: `${appLinks(cfg.publicUrl).app}/settings/notifications`,
      push: {
        store: new PushStore(this.sequelize, this.dbSchema),
        vapid: loadVapidKeys(cfg),
        allowHttp: cfg.pushAllowHttp,
      },
      phone: {
        sms: createSmsSender(cfg),
        // Phone codes are kept as an HMAC under a key derived like the link key.
        key: crypto.createHmac("sha256", deriveLinkKey(cfg)).update("phone codes").digest(),
      },
      now: () => new Date(),
      logger: this.logger,
    };
    this.absentUsers = new Map();
    this.ready = this.prepare();
    // Awaited in started (which fails the node on a broken template); never an unhandled rejection meanwhile.
    this.ready.catch(() => undefined);
  },

  async started() {
    const cfg = configOf(this.broker);
    await this.ready;
    this.mailer = createMailer(cfg);
    this.sender = meteredSender(
      this.broker,
      this.store,
      this.mailer,
      { ...this.settings.sender, nodeId: this.broker.nodeID, from: cfg.mailFrom },
      this.logger,
    );
    // SMTP being down does not make this node unready: mail waits in the queue by design.
    this.sender.start();
    const prune = setInterval(() => {
      pruneLiveMessages(this.sequelize, this.dbSchema).catch((err: Error) =>
        this.logger.warn(`notify: old live messages not pruned: ${err.message}`),
      );
    }, LIVE_PRUNE_INTERVAL_MS).unref();
    this.stopLivePrune = () => clearInterval(prune);
    this.stopDigests = everyInterval(this.settings.digest.intervalMs, () =>
      this.runDigests().catch((err: Error) =>
        this.logger.warn(`notify: digest round failed: ${err.message}`),
      ),
    );
    const { vapid, store: pushStore } = this.deps.push;
    if (vapid) {
      this.pushSender = new PushSender(
        pushStore,
        vapid,
        { ...this.settings.sender, nodeId: this.broker.nodeID },
        this.logger,
      );
      this.pushSender.start();
    } else {
      this.logger.warn(
        "notify: Web Push is off: set VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY (cluster mode generates no keys)",
      );
    }
    this.logger.info(
      `notify: delivering mail via ${this.mailer.mode === "smtp" ? "SMTP (pooled)" : `.eml files in ${cfg.dataDir}/outbox`}`,
    );
  },

  async stopped() {
    this.stopLivePrune?.();
    this.stopDigests?.();
    await this.pushSender?.stop();
    await this.sender?.stop();
    this.mailer?.close();
  },
};

export default NotifyService;
