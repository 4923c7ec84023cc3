import type { Context, Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { PublishedReadCache } from "../../lib/published-read-cache";
import type { RequestMeta } from "../../models/auth.model";
import type { CefrLevel, CourseBrief, CourseCard, CourseOutline } from "../../models/course.model";
import type { LessonForGrading } from "../../models/lesson.model";
import type { PlacementItem } from "../../models/placement.model";
import type { UserSummary } from "../../models/user.model";
import type { AnalyticsDeps } from "./analytics";
import type { EmitDurable } from "./awards";
import type { EventBatch } from "./event-batch";
import type { CertificateDeps } from "./certificates";
import type { Leaderboard } from "./leaderboard";
import type * as store from "./store";
import type { XapiDeps } from "./xapi";

/** The request a call to another service or an event is made for: its id travels along. */
export type Caller = Pick<Context, "requestID">;

/**
 * A learner's request as the use cases see it: its id (for the events it causes) and its meta
 * (the Idempotency-Key read, the status and headers of the answer written).
 */
export type RequestCtx = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/** Content's internal reads (published data only), as progress calls them. */
interface ContentCalls {
  lessonForGrading: (lessonId: string, caller?: Caller) => Promise<LessonForGrading>;
  courseOutline: (courseId: string, caller?: Caller) => Promise<CourseOutline>;
  coursesByIds: (ids: string[], caller?: Caller) => Promise<CourseBrief[]>;
  /** The first page of the public catalogue at one level, as content ranks it. */
  catalogueAt: (level: CefrLevel, caller?: Caller) => Promise<CourseCard[]>;
  /** The placement bank with its answer keys (services/progress/placement.ts). */
  placementBank: (caller?: Caller) => Promise<PlacementItem[]>;
}

/** Users' internal reads, as progress calls them. */
interface UsersCalls {
  profiles: (ids: string[], timeout: number, caller?: Caller) => Promise<UserSummary[]>;
  followingIds: (userId: string, caller?: Caller) => Promise<string[]>;
}

/** Notify's internal reads, as progress calls them. */
interface NotifyCalls {
  /** The learner's unread count, asked for the learner (`caller`'s user). */
  unreadCount: (caller: RequestCtx) => Promise<number>;
}

/** What the progress use cases need from the service around them (built once in `created`). */
export interface ProgressDeps extends CertificateDeps, AnalyticsDeps, XapiDeps {
  db: store.Db;
  withTransaction: <T>(fn: (t: Transaction) => Promise<T>) => Promise<T>;
  /** The service's clock (tests set it instead of waiting). */
  now: () => Date;
  /** Emits progress.* events of `caller`'s request, each with the learner's next `sequence`. */
  emitter: (caller?: Caller) => EmitDurable;
  /** The same events collected and written together at the end of a change (`guarded`). */
  eventBatch: (caller?: Caller) => EventBatch;
  /** The leaderboard: Redis when configured, PostgreSQL otherwise (open once started). */
  board: () => Leaderboard;
  /** The PostgreSQL answer when Redis fails (the same board as `board()` without Redis). */
  sqlBoard: () => Leaderboard;
  content: ContentCalls;
  users: UsersCalls;
  notify: NotifyCalls;
  /**
   * This node's copy of content's answers for published lessons (grading views): asked on
   * every attempt, changed only by a publish, cleared on content's `cache.clean.content`.
   */
  contentCopy?: PublishedReadCache;
  /** This node's copy of users' profiles (the daily goal), cleared on `cache.clean.users`. */
  usersCopy?: PublishedReadCache;
  /**
   * Tells every gateway, once the transaction commits, that these learners' data changed
   * (their completions, their home): every write of their events and of their summary does.
   */
  learnersChanged: (t: Transaction, userIds: string[], caller?: Caller) => void;
  /** Tells every gateway, once the transaction commits, that many learners' homes changed. */
  homesChanged: (t: Transaction) => void;
  logger: Logger;
}
