import type { CourseAccess } from "../../models/billing.model";
import type { Context } from "moleculer";
import type { OutboxRelay } from "../../lib/events/relay";
import type { MediaStorage } from "../../lib/storage";
import type { DbServiceThis } from "../../mixins/db.mixin";
import type { DurableEventsMethods } from "../../mixins/durable-events.mixin";
import type { AuthUser, RequestMeta } from "../../models/auth.model";
import type { CourseRecord } from "../../models/course.model";
import type { LessonRecord, PublishedLesson } from "../../models/lesson.model";
import type { AuthoringDeps } from "./authoring";
import type { ContentRepository } from "./repository";
import type { UnitDeps } from "./structure";

/** The content service as its modules see it (`this` of content.service.ts). */

export type Ctx<P = Record<string, never>> = Context<P, RequestMeta>;

export interface ContentVars {
  repo: ContentRepository;
  /** Relays the MongoDB store's events (content in MongoDB only). */
  mongoRelay?: OutboxRelay;
  storage: MediaStorage;
  publicUrl: string;
}

/** What reading a lesson needs: the drafts, who may edit, and the cached published version. */
export interface LessonReadDeps {
  repo: ContentRepository;
  publicUrl: string;
  canEdit(user: AuthUser, ownerId: string): boolean;
  /** The live version, through the cached `content.publishedLesson`. */
  publishedLesson(id: string): Promise<PublishedLesson | null>;
}

export interface ContentMethods {
  deps(ctx?: Context): AuthoringDeps;
  unitDeps(ctx: Context): UnitDeps;
  readDeps(ctx: Context): LessonReadDeps;
  canEdit(user: AuthUser | undefined, ownerId: string): boolean;
  ownedCourse(ctx: Ctx<unknown>, id: string): Promise<CourseRecord>;
  ownedLesson(ctx: Ctx<unknown>, id: string): Promise<LessonRecord>;
  afterChange(ctx?: Context): Promise<void>;
  accessOf(courseId: string): Promise<CourseAccess>;
  seedIfEmpty(): Promise<void>;
}

export type ContentThis = DbServiceThis & DurableEventsMethods & ContentVars & ContentMethods;
