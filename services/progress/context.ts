import type { Context } from "moleculer";
import type { PublishedReadCache } from "../../lib/published-read-cache";
import type { DbServiceThis } from "../../mixins/db.mixin";
import type { DurableEventsMethods } from "../../mixins/durable-events.mixin";
import type { RequestMeta } from "../../models/auth.model";
import type { EmitDurable } from "./awards";
import type { AnalyticsDeps } from "./analytics";
import type { CertificateDeps } from "./certificates";
import type { XapiDeps } from "./xapi";
import type { Clock } from "./clock";
import type { Leaderboard } from "./leaderboard";
import type { ReminderRun } from "./reminders";

/** The progress service as its use cases see it (`this` of progress.service.ts). */

export type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

export interface ProgressSettings {
  /** How often each node tries the streak reminder job (one node does it per round). */
  reminderIntervalMs: number;
}

export interface ProgressVars {
  /** Injectable time source: tests set it instead of waiting. */
  clock: Clock;
  leaderboard: Leaderboard;
  /** The PostgreSQL answer when Redis fails (the same object as `leaderboard` without Redis). */
  sqlLeaderboard: Leaderboard;
  stopReminders?: () => void;
  /** Stops the rounds that set the active-learner gauges. */
  stopActiveGauges?: () => void;
  /** What the certificate use cases need (services/progress/certificates.ts), built once. */
  certificates: CertificateDeps;
  /** What the analytics use cases need (services/progress/analytics.ts), built once. */
  analytics: AnalyticsDeps;
  /** What the xAPI statements need (services/progress/xapi.ts), built once. */
  xapi: XapiDeps;
  /**
   * This node's copy of content's answers for published lessons (grading views): asked on
   * every attempt, changed only by a publish, cleared on content's `cache.clean.content`.
   */
  contentCopy?: PublishedReadCache;
  /** This node's copy of users' profiles (the daily goal), cleared on `cache.clean.users`. */
  usersCopy?: PublishedReadCache;
}

export interface ProgressMethods {
  now(): Date;
  emitter(ctx?: Context): EmitDurable;
  board(): Leaderboard;
  runStreakReminders(now?: Date): Promise<ReminderRun>;
}

export type ProgressThis = DbServiceThis &
  DurableEventsMethods &
  ProgressVars &
  ProgressMethods & { settings: ProgressSettings };
