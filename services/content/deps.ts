import type { Context, Logger } from "moleculer";
import type { MediaStorage } from "../../lib/storage";
import type { AuthUser, RequestMeta } from "../../models/auth.model";
import type { PublishedCourse } from "../../models/course.model";
import type { DomainEvents, DomainEventType } from "../../models/events.model";
import type { PublishedLesson } from "../../models/lesson.model";
import type { AuthoringDeps } from "./authoring";
import type { ContentRepository, Tx } from "./repository";

/** The slice of an action's context a use case reads: the user, and the request id its events and calls carry. */
export type Caller = Pick<Context<unknown, RequestMeta>, "meta" | "requestID">;

/** What the content use cases need from the service around them (built once in `started`). */
export interface ContentDeps {
  repo: ContentRepository;
  storage: MediaStorage;
  publicUrl: string;
  /** A unit of work: a PostgreSQL transaction, or (MongoDB) the events its carrying write takes. */
  transaction<T>(fn: (t: Tx) => Promise<T>): Promise<T>;
  emit<K extends DomainEventType>(
    type: K,
    data: DomainEvents[K],
    t: Tx,
    caller?: Pick<Caller, "requestID">,
  ): Promise<void>;
  /** An admin edits every course; an author only their own. */
  canEdit(user: AuthUser | undefined, ownerId: string): boolean;
  /** Drops every node's cached reads of content: call after a change has committed. */
  contentChanged(caller?: Pick<Caller, "requestID">): Promise<void>;
  /** The live version, through the cached `content.publishedCourse`. */
  publishedCourse(id: string, caller?: Pick<Caller, "requestID">): Promise<PublishedCourse | null>;
  /** The live version, through the cached `content.publishedLesson`. */
  publishedLesson(id: string, caller?: Pick<Caller, "requestID">): Promise<PublishedLesson | null>;
  /** The lessons of a course a learner has completed (`progress.completedLessons`, no retries). */
  completedLessons(
    courseId: string,
    userId: string,
    caller?: Pick<Caller, "requestID">,
  ): Promise<string[]>;
  logger: Logger;
}

/** The authoring deps of one call: the events it emits carry the caller's request id. */
export function authoringFor(deps: ContentDeps, caller?: Pick<Caller, "requestID">): AuthoringDeps {
  return { ...deps, emit: (type, data, t) => deps.emit(type, data, t, caller) };
}
