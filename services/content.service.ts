import type { Readable } from "node:stream";
import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import type { Transaction } from "sequelize";
import { actorOf } from "../lib/auth/guard";
import { configOf } from "../lib/config";
import { registerHealthCheck, unregisterHealthCheck } from "../lib/health";
import { createdAt } from "../lib/rest-answers";
import { createMediaStorage } from "../lib/storage";
import { DbMixin } from "../mixins/db.mixin";
import { DurableEvents } from "../mixins/durable-events.mixin";
import { createEnvelope } from "../lib/events/envelope";
import { PendingEvents } from "../lib/events/mongo-outbox-store";
import type { AuthUser } from "../models/auth.model";
import type {
  CourseBrief,
  CourseOutline,
  CourseRecord,
  CourseUnit,
  CreateCourseInput,
  ListCoursesInput,
  Page,
  PublishedCourse,
  UpdateCourseInput,
} from "../models/course.model";
import {
  createCourseParams,
  createUnitParams,
  listCoursesParams,
  updateCourseParams,
} from "../models/course.model";
import type { CourseAccess } from "../models/billing.model";
import type {
  LessonForGrading,
  LessonInput,
  LessonRecord,
  LessonView,
  PublishedLesson,
} from "../models/lesson.model";
import { createLessonParams, updateLessonParams } from "../models/lesson.model";
import type { MediaRef } from "../models/media.model";
import type { TopicCount } from "../models/content.model";
import { READ_RETRY } from "../moleculer.config";
import * as authoring from "./content/authoring";
import type {
  ContentMethods,
  ContentThis,
  ContentVars,
  Ctx,
  LessonReadDeps,
} from "./content/context";
import { courseNotFound, lessonNotFound } from "./content/errors";
import { answerMedia, headMedia, openMedia, saveUpload } from "./content/media";
import type { MongoContentRepository } from "./content/mongo-repository";
import { courseAccessMigrations } from "./content/access-migrations";
import { contentMigrations } from "./content/pg-migrations";
import { PgContentRepository } from "./content/pg-repository";
import { listCourses, readCourse, readLesson } from "./content/reading";
import { seedPlacementBank, seedStarterContent, type SeedReport } from "./content/seeder";
import { placementBankMigrations } from "./content/placement-migrations";
import type { PlacementItem } from "../models/placement.model";
import { createUnit, liveRequirementsOf, type UnitDeps } from "./content/structure";
import { topicRows } from "./content/topics";
import { gradingView, outlineView } from "./content/views";
import { idParam } from "../lib/params";

/**
 * Content: courses → ordered lessons (reading, quiz, flashcards), media, CEFR levels and
 * topics. Authors edit drafts; publish freezes an immutable version that learners read
 * (cached, cleaned on every node on change). Answer keys leave only through the internal
 * `lessonForGrading`, which the gateway never routes.
 */

/** mongoose costs a node ~30 MiB: it is loaded only when content lives in MongoDB. */
function mongoRepository(
  ...args: ConstructorParameters<typeof MongoContentRepository>
): MongoContentRepository {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require("./content/mongo-repository") as {
    MongoContentRepository: typeof MongoContentRepository;
  };
  return new mod.MongoContentRepository(...args);
}

const ContentService: ServiceSchema<
  ServiceSettingSchema,
  ContentMethods,
  ContentVars,
  ContentThis
> = {
  name: "content",

  mixins: [
    DbMixin({
      schema: "content",
      migrations: [...contentMigrations, ...courseAccessMigrations, ...placementBankMigrations],
      sync: false,
    }),
    DurableEvents(),
  ],

  actions: {
    listCourses: {
      params: listCoursesParams,
      // The public catalogue is the same for everyone; an author's own list is not cached.
      cache: {
        enabled: (ctx: Ctx<ListCoursesInput>) => !ctx.params.mine,
        keys: ["level", "topic", "q", "page", "pageSize"],
      },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<ListCoursesInput>): Promise<Page<unknown>> {
        return listCourses(this, ctx);
      },
    },

    createCourse: {
      params: createCourseParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<CreateCourseInput>) {
        const user = actorOf(ctx);
        const course = await authoring.createCourse(this.deps(ctx), user.id, ctx.params);
        await this.afterChange(ctx);
        createdAt(ctx, `/courses/${course.id}`);
        return course;
      },
    },

    getCourse: {
      params: {
        ...idParam,
        view: { type: "enum", values: ["draft", "published"], optional: true },
      },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<{ id: string; view?: "draft" | "published" }>) {
        return readCourse(this, ctx);
      },
    },

    updateCourse: {
      params: updateCourseParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<UpdateCourseInput & { id: string }>) {
        const course = await this.ownedCourse(ctx, ctx.params.id);
        const { id: _id, ...input } = ctx.params;
        const view = await authoring.updateCourse(this.deps(ctx), course, input);
        await this.afterChange(ctx);
        return view;
      },
    },

    deleteCourse: {
      params: idParam,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<{ id: string }>): Promise<null> {
        const course = await this.ownedCourse(ctx, ctx.params.id);
        await authoring.deleteCourse(this.deps(ctx), course);
        await this.afterChange(ctx);
        ctx.meta.$statusCode = 204;
        return null;
      },
    },

    publishCourse: {
      params: idParam,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<{ id: string }>) {
        const course = await this.ownedCourse(ctx, ctx.params.id);
        const view = await authoring.publishCourse(this.deps(ctx), course.id);
        await this.afterChange(ctx);
        return view;
      },
    },

    createLesson: {
      params: createLessonParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<LessonInput & { id: string }>) {
        const course = await this.ownedCourse(ctx, ctx.params.id);
        const { id: _id, ...input } = ctx.params;
        const lesson = await authoring.createLesson(this.deps(ctx), course, input);
        await this.afterChange(ctx);
        createdAt(ctx, `/lessons/${lesson.id}`);
        return lesson;
      },
    },

    createUnit: {
      params: createUnitParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<{ id: string; title: string; order: number }>): Promise<CourseUnit> {
        const { id: courseId, title, order } = ctx.params;
        // A unit has no URL of its own: the route's 201 stands, with no Location.
        const unit = await createUnit(this.unitDeps(ctx), { courseId, title, order }, actorOf(ctx));
        await this.afterChange(ctx);
        return unit;
      },
    },

    getLesson: {
      params: idParam,
      auth: true,
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<{ id: string }>): Promise<LessonView> {
        return readLesson(this.readDeps(ctx), ctx.params, actorOf(ctx));
      },
    },

    updateLesson: {
      params: updateLessonParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<Partial<LessonInput> & { id: string }>) {
        const lesson = await this.ownedLesson(ctx, ctx.params.id);
        const { id: _id, ...input } = ctx.params;
        const view = await authoring.updateLesson(this.deps(ctx), lesson, input);
        await this.afterChange(ctx);
        return view;
      },
    },

    deleteLesson: {
      params: idParam,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<{ id: string }>): Promise<null> {
        const lesson = await this.ownedLesson(ctx, ctx.params.id);
        await authoring.deleteLesson(this.deps(ctx), lesson);
        await this.afterChange(ctx);
        ctx.meta.$statusCode = 204;
        return null;
      },
    },

    uploadMedia: {
      // moleculer-web's multipart alias passes the file as the call's stream and its
      // descriptors ($filename, $mimetype, …) plus the form's fields as params.
      params: {
        $fieldname: { type: "string", optional: true },
        $filename: { type: "string", max: 255, optional: true },
        $encoding: { type: "string", optional: true },
        $mimetype: { type: "string", optional: true },
      },
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<{ $filename?: string }>): Promise<MediaRef> {
        const user = actorOf(ctx);
        const stream = (ctx.stream ?? null) as Readable | null;
        const media = await saveUpload(this, user.id, stream, ctx.params.$filename);
        createdAt(ctx, `/media/${media.id}`);
        return media;
      },
    },

    getMedia: {
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>): Promise<Readable | null> {
        return answerMedia(ctx, await openMedia(this, ctx.params.id, ctx.meta.requestHeaders));
      },
    },

    headMedia: {
      params: idParam,
      async handler(ctx: Ctx<{ id: string }>): Promise<Readable | null> {
        return answerMedia(ctx, await headMedia(this, ctx.params.id));
      },
    },

    topics: {
      cache: { keys: [] },
      retryPolicy: READ_RETRY,
      async handler(): Promise<TopicCount[]> {
        return topicRows(await this.repo.topicCounts());
      },
    },

    publishedCourse: {
      internal: true,
      params: idParam,
      cache: { keys: ["id"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<{ id: string }>): Promise<PublishedCourse | null> {
        return this.repo.getPublishedCourse(ctx.params.id);
      },
    },

    publishedLesson: {
      internal: true,
      params: idParam,
      cache: { keys: ["id"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<{ id: string }>): Promise<PublishedLesson | null> {
        return this.repo.getPublishedLesson(ctx.params.id);
      },
    },

    lessonForGrading: {
      internal: true,
      params: { lessonId: { type: "string", min: 1, max: 64 } },
      cache: { keys: ["lessonId"] },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx<{ lessonId: string }>): Promise<LessonForGrading> {
        const lesson = await this.repo.getPublishedLesson(ctx.params.lessonId);
        if (!lesson) throw lessonNotFound(ctx.params.lessonId);
        return gradingView(
          lesson,
          await this.accessOf(lesson.courseId),
          await liveRequirementsOf(this.repo, lesson),
        );
      },
    },

    courseOutline: {
      internal: true,
      params: { courseId: { type: "string", min: 1, max: 64 } },
      cache: { keys: ["courseId"] },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx<{ courseId: string }>): Promise<CourseOutline> {
        const course = await this.repo.getPublishedCourse(ctx.params.courseId);
        if (!course) throw courseNotFound(ctx.params.courseId);
        return outlineView(course, await this.accessOf(course.id));
      },
    },

    coursesByIds: {
      internal: true,
      params: { ids: { type: "array", max: 500, items: { type: "string", min: 1, max: 64 } } },
      cache: { keys: ["ids"] },
      retryPolicy: READ_RETRY,
      async handler(ctx: Ctx<{ ids: string[] }>): Promise<CourseBrief[]> {
        const byId = new Map(
          (await this.repo.publishedBriefs([...new Set(ctx.params.ids)])).map(c => [c.id, c]),
        );
        return ctx.params.ids.flatMap(id => byId.get(id) ?? []);
      },
    },

    /** The placement bank with its answer keys, for progress's placement tests (never routed). */
    placementBank: {
      internal: true,
      cache: { keys: [] },
      retryPolicy: READ_RETRY,
      handler(): Promise<PlacementItem[]> {
        return this.repo.placementItems();
      },
    },

    /** `npm run seed` and the REPL (`call content.seedStarter`): the starter English course, idempotent. */
    seedStarter: {
      internal: true,
      async handler(ctx: Ctx): Promise<SeedReport> {
        const report = await seedStarterContent(this.deps(ctx));
        await this.afterChange(ctx);
        return report;
      },
    },
  },

  methods: {
    deps(ctx?: Context): authoring.AuthoringDeps {
      const mongoRelay = this.mongoRelay;
      if (mongoRelay) {
        // No transaction spans MongoDB documents: a unit of work collects its events and the
        // store's carrying write takes them (lib/events/mongo-outbox-store.ts).
        return {
          repo: this.repo,
          publicUrl: this.publicUrl,
          transaction: async fn => {
            const pending = new PendingEvents();
            const result = await fn(pending);
            pending.assertAllCarried();
            if (pending.carried > 0) mongoRelay.kick();
            return result;
          },
          emit: async (type, data, t) => {
            if (!(t instanceof PendingEvents))
              throw new Error(`${type} emitted outside a unit of work`);
            t.add(createEnvelope(type, data, { producer: this.name, requestId: ctx?.requestID }));
          },
        };
      }
      return {
        repo: this.repo,
        publicUrl: this.publicUrl,
        transaction: fn => this.withTransaction(t => fn(t)),
        emit: async (type, data, t) => {
          await this.emitDurable(type, data, { transaction: t as Transaction, ctx });
        },
      };
    },

    unitDeps(ctx: Context): UnitDeps {
      return { ...this.deps(ctx), canEdit: (user, ownerId) => this.canEdit(user, ownerId) };
    },

    readDeps(ctx: Context): LessonReadDeps {
      return {
        repo: this.repo,
        publicUrl: this.publicUrl,
        canEdit: (user, ownerId) => this.canEdit(user, ownerId),
        publishedLesson: id =>
          ctx.call<PublishedLesson | null, { id: string }>("content.publishedLesson", { id }),
      };
    },

    canEdit(user: AuthUser | undefined, ownerId: string): boolean {
      if (!user) return false;
      return user.roles.includes("admin") || (user.roles.includes("author") && user.id === ownerId);
    },

    /** Someone else's course answers 404, like one that does not exist. */
    async ownedCourse(ctx: Ctx<unknown>, id: string): Promise<CourseRecord> {
      const user = actorOf(ctx);
      const course = await this.repo.getCourse(id);
      if (!course || !this.canEdit(user, course.ownerId)) throw courseNotFound(id);
      return course;
    },

    async ownedLesson(ctx: Ctx<unknown>, id: string): Promise<LessonRecord> {
      const user = actorOf(ctx);
      const lesson = await this.repo.getLesson(id);
      const course = lesson ? await this.repo.getCourse(lesson.courseId) : null;
      if (!lesson || !course || !this.canEdit(user, course.ownerId)) throw lessonNotFound(id);
      return lesson;
    },

    /**
     * Cached reads are dropped everywhere after a committed change (Redis is shared, so the
     * next read anywhere is fresh). A read that began before the commit could still store
     * the old answer just after; a second clean a moment later removes that too.
     */
    /** A course's access now (the draft record holds it; a course gone meanwhile is free). */
    async accessOf(courseId: string): Promise<CourseAccess> {
      return (await this.repo.getCourse(courseId))?.access ?? "free";
    },

    async afterChange(ctx?: Context): Promise<void> {
      await this.clearCache(ctx);
      setTimeout(() => {
        if (this.broker.started)
          this.clearCache().catch(err => this.logger.warn("cache clean failed", err));
      }, 250).unref();
    },

    /** The embedded default loads the starter course on first start so a newcomer can learn at once. */
    async seedIfEmpty(): Promise<void> {
      const cfg = configOf(this.broker);
      if (cfg.databaseUrl || cfg.contentMongoUri) return;
      if ((await this.repo.countCourses()) > 0) return;
      const report = await seedStarterContent(this.deps());
      await this.clearCache();
      this.logger.info(`starter content loaded: ${report.created.join(", ")}`);
    },
  },

  created() {
    const cfg = configOf(this.broker);
    this.publicUrl = cfg.publicUrl;
    this.storage = createMediaStorage(cfg);
  },

  async started() {
    const cfg = configOf(this.broker);
    if (cfg.contentMongoUri) {
      const mongo = mongoRepository(cfg.contentMongoUri, this.logger);
      await mongo.start();
      this.repo = mongo;
      this.mongoRelay = this.relayOutbox(mongo.outbox());
    } else {
      this.repo = new PgContentRepository(this.sequelize, this.dbSchema);
      await this.repo.start();
    }
    await this.storage.start();
    if (this.repo.store === "mongodb")
      registerHealthCheck(this.broker, "database:content-mongo", () => this.repo.ping());
    registerHealthCheck(this.broker, `media:${this.storage.kind}`, () => this.storage.ping());
    await this.seedIfEmpty();
    // The placement bank is platform data, not a course: every store gets it, embedded or not.
    if ((await this.repo.placementItems()).length === 0) {
      await seedPlacementBank(this.repo);
      await this.clearCache();
    }
  },

  async stopped() {
    unregisterHealthCheck(this.broker, "database:content-mongo");
    unregisterHealthCheck(this.broker, `media:${this.storage.kind}`);
    await this.mongoRelay?.stop();
    await this.repo?.stop();
    await this.storage.stop();
  },
};

export default ContentService;
