import type { Context } from "moleculer";
import type { DbServiceThis } from "../../mixins/db.mixin";
import type { DurableEventsMethods } from "../../mixins/durable-events.mixin";
import type { RequestMeta } from "../../models/auth.model";
import type { Clock } from "./clock";
import type { ProgressDeps } from "./deps";
import type { Leaderboard } from "./leaderboard";
import type { ReminderRun } from "./reminders";

/** The progress service itself (`this` of progress.service.ts); its use cases see only `deps`. */

export type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

export interface ProgressSettings {
  /** How often each node tries the streak reminder job (one node does it per round). */
  reminderIntervalMs: number;
}

export interface ProgressVars {
  /** Injectable time source: tests set it instead of waiting. */
  clock: Clock;
  /** Redis's board, or PostgreSQL's without Redis (services/progress/boards.ts), once started. */
  leaderboard: Leaderboard;
  /** The PostgreSQL answer when Redis fails (the same object as `leaderboard` without Redis). */
  sqlLeaderboard: Leaderboard;
  stopReminders?: () => void;
  /** Stops the rounds that set the active-learner gauges. */
  stopActiveGauges?: () => void;
  /** What the use cases need (services/progress/deps.ts), built once in `created`. */
  deps: ProgressDeps;
}

export interface ProgressMethods {
  now(): Date;
  runStreakReminders(now?: Date): Promise<ReminderRun>;
}

export type ProgressThis = DbServiceThis &
  DurableEventsMethods &
  ProgressVars &
  ProgressMethods & { settings: ProgressSettings };
