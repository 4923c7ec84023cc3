import type { Readable } from "node:stream";
import type { CallingOptions, Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
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
import type {
  CourseBrief,
  CourseOutline,
  CourseUnit,
  CreateCourseInput,
  ListCoursesInput,
  Page,
  PublishedCourse,
} from "../models/course.model";
import {
  createCourseParams,
  createUnitParams,
  listCoursesParams,
  updateCourseParams,
} from "../models/course.model";
import type {
  LessonForGrading,
  LessonInput,
  LessonView,
  PublishedLesson,
} from "../models/lesson.model";
import { createLessonParams, updateLessonParams } from "../models/lesson.model";
import type { MediaRef } from "../models/media.model";
import type { TopicCount } from "../models/content.model";
import { READ_RETRY } from "../moleculer.config";
import type { ContentMethods, ContentThis, ContentVars, Ctx } from "./content/context";
import type { ContentDeps } from "./content/deps";
import * as editing from "./content/editing";
import { canEdit } from "../lib/course-views";
import { answerMedia, headMedia, openMedia, saveUpload } from "./content/media";
import type { MongoContentRepository } from "./content/mongo-repository";
import { courseAccessMigrations } from "./content/access-migrations";
import { contentMigrations } from "./content/pg-migrations";
import { PgContentRepository } from "./content/pg-repository";
import {
  courseOutline,
  coursesByIds,
  lessonForGrading,
  listCourses,
  listTopics,
  readCourse,
  readLesson,
} from "./content/reading";
import { seedPlacementBank, seedStarterContent, type SeedReport } from "./content/seeder";
import { placementBankMigrations } from "./content/placement-migrations";
import type { PlacementItem } from "../models/placement.model";
import { idParam, idRule, type IdInput } from "../lib/params";
import type { ParamsOf } from "../lib/params-of";

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

const getCourseParams = {
  ...idParam,
  view: { type: "enum", values: ["draft", "published"], optional: true },
} as const;
// moleculer-web's multipart alias passes the file as the call's stream and its
// descriptors ($filename, $mimetype, …) plus the form's fields as params.
const uploadParams = {
  $fieldname: { type: "string", optional: true },
  $filename: { type: "string", max: 255, optional: true },
  $encoding: { type: "string", optional: true },
  $mimetype: { type: "string", optional: true },
} as const;
const lessonIdParams = { lessonId: idRule } as const;
const courseIdParams = { courseId: idRule } as const;
const idsParams = { ids: { type: "array", max: 500, items: idRule } } as const;

/** A call made for an action carries its request id. */
function callOptions(caller?: Pick<Context, "requestID">): CallingOptions {
  return caller?.requestID ? { requestID: caller.requestID } : {};
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
        return listCourses(this.deps, ctx.params, ctx);
      },
    },

    createCourse: {
      params: createCourseParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<CreateCourseInput>) {
        const course = await editing.createCourse(this.deps, ctx.params, actorOf(ctx), ctx);
        createdAt(ctx, `/courses/${course.id}`);
        return course;
      },
    },

    getCourse: {
      params: getCourseParams,
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<ParamsOf<typeof getCourseParams>>) {
        return readCourse(this.deps, ctx.params, ctx);
      },
    },

    updateCourse: {
      params: updateCourseParams,
      auth: true,
      roles: ["author"],
      handler(ctx: Ctx<ParamsOf<typeof updateCourseParams>>) {
        return editing.updateCourse(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    deleteCourse: {
      params: idParam,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<IdInput>): Promise<null> {
        await editing.deleteCourse(this.deps, ctx.params, actorOf(ctx), ctx);
        ctx.meta.$statusCode = 204;
        return null;
      },
    },

    publishCourse: {
      params: idParam,
      auth: true,
      roles: ["author"],
      handler(ctx: Ctx<IdInput>) {
        return editing.publishCourse(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    createLesson: {
      params: createLessonParams,
      auth: true,
      roles: ["author"],
      // LessonInput stays written out: to the params a question's options and answer are `any`,
      // which the lesson's own rules check (content/validation.ts).
      async handler(ctx: Ctx<LessonInput & IdInput>) {
        const lesson = await editing.createLesson(this.deps, ctx.params, actorOf(ctx), ctx);
        createdAt(ctx, `/lessons/${lesson.id}`);
        return lesson;
      },
    },

    createUnit: {
      params: createUnitParams,
      auth: true,
      roles: ["author"],
      handler(ctx: Ctx<ParamsOf<typeof createUnitParams>>): Promise<CourseUnit> {
        return editing.addUnit(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    getLesson: {
      params: idParam,
      auth: true,
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<IdInput>): Promise<LessonView> {
        return readLesson(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    updateLesson: {
      params: updateLessonParams,
      auth: true,
      roles: ["author"],
      handler(ctx: Ctx<Partial<LessonInput> & IdInput>) {
        return editing.updateLesson(this.deps, ctx.params, actorOf(ctx), ctx);
      },
    },

    deleteLesson: {
      params: idParam,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<IdInput>): Promise<null> {
        await editing.deleteLesson(this.deps, ctx.params, actorOf(ctx), ctx);
        ctx.meta.$statusCode = 204;
        return null;
      },
    },

    uploadMedia: {
      params: uploadParams,
      auth: true,
      roles: ["author"],
      async handler(ctx: Ctx<ParamsOf<typeof uploadParams>>): Promise<MediaRef> {
        const stream = (ctx.stream ?? null) as Readable | null;
        const upload = { stream, filename: ctx.params.$filename };
        const media = await saveUpload(this.deps, upload, actorOf(ctx));
        createdAt(ctx, `/media/${media.id}`);
        return media;
      },
    },

    getMedia: {
      params: idParam,
      async handler(ctx: Ctx<IdInput>): Promise<Readable | null> {
        return answerMedia(ctx, await openMedia(this.deps, ctx.params, ctx.meta.requestHeaders));
      },
    },

    headMedia: {
      params: idParam,
      async handler(ctx: Ctx<IdInput>): Promise<Readable | null> {
        return answerMedia(ctx, await headMedia(this.deps, ctx.params));
      },
    },

    topics: {
      cache: { keys: [] },
      retryPolicy: READ_RETRY,
      handler(): Promise<TopicCount[]> {
        return listTopics(this.deps);
      },
    },

    publishedCourse: {
      internal: true,
      params: idParam,
      cache: { keys: ["id"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<IdInput>): Promise<PublishedCourse | null> {
        return this.deps.repo.getPublishedCourse(ctx.params.id);
      },
    },

    publishedLesson: {
      internal: true,
      params: idParam,
      cache: { keys: ["id"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<IdInput>): Promise<PublishedLesson | null> {
        return this.deps.repo.getPublishedLesson(ctx.params.id);
      },
    },

    lessonForGrading: {
      internal: true,
      params: lessonIdParams,
      cache: { keys: ["lessonId"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<ParamsOf<typeof lessonIdParams>>): Promise<LessonForGrading> {
        return lessonForGrading(this.deps, ctx.params);
      },
    },

    courseOutline: {
      internal: true,
      params: courseIdParams,
      cache: { keys: ["courseId"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<ParamsOf<typeof courseIdParams>>): Promise<CourseOutline> {
        return courseOutline(this.deps, ctx.params);
      },
    },

    coursesByIds: {
      internal: true,
      params: idsParams,
      cache: { keys: ["ids"] },
      retryPolicy: READ_RETRY,
      handler(ctx: Ctx<ParamsOf<typeof idsParams>>): Promise<CourseBrief[]> {
        return coursesByIds(this.deps, ctx.params);
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
      handler(ctx: Ctx): Promise<SeedReport> {
        return editing.seedStarter(this.deps, ctx);
      },
    },
  },

  methods: {
    /** How a change and its events commit together: the PostgreSQL transaction, or (MongoDB) its carrying write. */
    unitOfWork(): Pick<ContentDeps, "transaction" | "emit"> {
      const mongoRelay = this.mongoRelay;
      if (mongoRelay) {
        // No transaction spans MongoDB documents: a unit of work collects its events and the
        // store's carrying write takes them (lib/events/mongo-outbox-store.ts).
        return {
          transaction: async fn => {
            const pending = new PendingEvents();
            const result = await fn(pending);
            pending.assertAllCarried();
            if (pending.carried > 0) mongoRelay.kick();
            return result;
          },
          emit: async (type, data, t, caller) => {
            if (!(t instanceof PendingEvents))
              throw new Error(`${type} emitted outside a unit of work`);
            t.add(
              createEnvelope(type, data, { producer: this.name, requestId: caller?.requestID }),
            );
          },
        };
      }
      return {
        transaction: fn => this.withTransaction(t => fn(t)),
        emit: async (type, data, t, caller) => {
          await this.emitDurable(type, data, { transaction: t as Transaction, ctx: caller });
        },
      };
    },

    /**
     * Cached reads are dropped everywhere after a committed change (Redis is shared, so the
     * next read anywhere is fresh). A read that began before the commit could still store
     * the old answer just after; a second clean a moment later removes that too.
     */
    async afterChange(ctx?: Pick<Context, "requestID">): Promise<void> {
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
      const report = await seedStarterContent(this.deps);
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
    this.deps = {
      repo: this.repo,
      storage: this.storage,
      publicUrl: this.publicUrl,
      ...this.unitOfWork(),
      canEdit,
      contentChanged: caller => this.afterChange(caller),
      publishedCourse: (id, caller) =>
        this.broker.call("content.publishedCourse", { id }, callOptions(caller)),
      publishedLesson: (id, caller) =>
        this.broker.call("content.publishedLesson", { id }, callOptions(caller)),
      completedLessons: (courseId, userId, caller) =>
        this.broker.call(
          "progress.completedLessons",
          { courseId, userId },
          { ...callOptions(caller), retries: 0 },
        ),
      logger: this.logger,
    };
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
