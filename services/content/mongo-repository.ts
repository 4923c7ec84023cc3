import mongoose, { Schema, type Connection, type Model } from "mongoose";
import type { Service } from "moleculer";
import {
  LIVE,
  MongoOutboxStore,
  OUTBOX_SCHEMA_FIELDS,
  PendingEvents,
  withEvents,
} from "../../lib/events/mongo-outbox-store";
import type { EventEnvelope } from "../../models/events.model";
import type {
  CourseBrief,
  CourseCard,
  CourseRecord,
  CourseUnit,
  PublishedCourse,
} from "../../models/course.model";
import type { LessonRecord, PublishedLesson, Question } from "../../models/lesson.model";
import type { MediaRecord } from "../../models/media.model";
import type { PlacementItem } from "../../models/placement.model";
import type { ContentRepository, CourseFilter, Tx } from "./repository";
import { searchTokens } from "./search-tokens";

/**
 * MongoDB store (CONTENT_MONGO_URI): one collection per document kind, `_id` = our id,
 * on a connection of its own. It uses nothing FerretDB v1 lacks: no `$text` index (search
 * is an indexed array of normalised tokens, ranked here), no multi-document transaction
 * (each use case's events ride in one single-document write: lib/events/mongo-outbox-store.ts).
 * The carrying writes: a lesson's deletion (the lesson becomes a tombstone with its
 * `content.lesson.deleted`) and a publish (the live course document with its
 * `content.course.published`); the other writes of a use case come before them and are
 * idempotent, so a use case cut short is finished by repeating it.
 */

const opts = { versionKey: false, _id: false } as const;
const mixed = Schema.Types.Mixed;

const courseSchema = new Schema(
  {
    _id: String,
    ownerId: { type: String, index: true },
    title: String,
    description: String,
    level: String,
    topics: [String],
    language: String,
    status: String,
    version: Number,
    hasUnpublishedChanges: Boolean,
    createdAt: String,
    updatedAt: String,
    publishedAt: { type: String, default: null },
    access: { type: String, default: "free" },
  },
  opts,
);

const lessonSchema = new Schema(
  {
    _id: String,
    courseId: { type: String, index: true },
    kind: String,
    title: String,
    order: Number,
    unitId: { type: String, default: null },
    requires: { type: [String], default: [] },
    skills: { type: [String], default: [] },
    body: String,
    media: [String],
    /** Each question as JSON text (questionsToStore): FerretDB stores no nested arrays. */
    questions: [mixed],
    cards: [mixed],
    createdAt: String,
    updatedAt: String,
    ...OUTBOX_SCHEMA_FIELDS,
  },
  opts,
);

const publishedCourseSchema = new Schema(
  {
    _id: String,
    ownerId: String,
    title: String,
    description: String,
    level: { type: String, index: true },
    topics: { type: [String], index: true },
    language: String,
    status: String,
    version: Number,
    publishedAt: String,
    lessons: [mixed],
    units: { type: [mixed], default: [] },
    /** Normalised words of the title, and of title and description (the indexed one). */
    titleTokens: { type: [String], default: undefined },
    searchTokens: { type: [String], index: true, default: undefined },
    ...OUTBOX_SCHEMA_FIELDS,
  },
  opts,
);

const unitSchema = new Schema(
  {
    _id: String,
    courseId: { type: String, index: true },
    title: String,
    order: Number,
    createdAt: String,
  },
  opts,
);

const publishedLessonSchema = new Schema(
  { _id: String, courseId: { type: String, index: true }, courseVersion: Number, doc: mixed },
  opts,
);
const versionSchema = new Schema(
  { _id: String, courseId: { type: String, index: true }, version: Number, snapshot: mixed },
  opts,
);
const mediaSchema = new Schema(
  {
    _id: String,
    ownerId: String,
    contentType: String,
    size: Number,
    storageKey: String,
    filename: String,
    createdAt: String,
  },
  opts,
);

/** A placement question as JSON text, like a lesson's questions (a cloze's key nests lists). */
const placementItemSchema = new Schema(
  { _id: String, level: { type: String, index: true }, item: String },
  opts,
);

type Doc = Record<string, unknown> & { _id: string };

/**
 * A cloze's alternatives and a match's pairs are nested arrays, which FerretDB (the MongoDB
 * protocol over PostgreSQL) refuses: questions are stored as JSON text, one string each.
 * Questions stored as documents before that are read as they are.
 */
function questionsToStore(questions: Question[]): string[] {
  return questions.map(q => JSON.stringify(q));
}

function questionsFromStore(stored: unknown): Question[] {
  if (!Array.isArray(stored)) return [];
  return stored.map(q => (typeof q === "string" ? JSON.parse(q) : q) as Question);
}

function storedLesson<L extends { questions: Question[] }>(
  l: L,
): Omit<L, "questions"> & { questions: string[] } {
  return { ...l, questions: questionsToStore(l.questions) };
}

function publishedFromStore(doc: unknown): PublishedLesson {
  const l = doc as PublishedLesson;
  return { ...l, questions: questionsFromStore(l.questions) };
}

const INTERNAL_FIELDS = [
  "titleTokens",
  "searchTokens",
  ...Object.keys(OUTBOX_SCHEMA_FIELDS),
] as const;

function strip<T>(doc: Doc | null): T | null {
  if (!doc) return null;
  const { _id, ...rest } = doc;
  for (const field of INTERNAL_FIELDS) delete rest[field];
  return { id: _id, ...rest } as T;
}

/** Title words weigh four times description words, as in the PostgreSQL store's ranking. */
const TITLE_WEIGHT = 4;

/** The events of the unit of work `tx` that this write carries. */
function eventsFor(tx: Tx, match?: (envelope: EventEnvelope) => boolean): EventEnvelope[] {
  if (tx === undefined || tx === null) return [];
  if (!(tx instanceof PendingEvents))
    throw new Error("the MongoDB content store takes its events as PendingEvents");
  return tx.take(match);
}

export class MongoContentRepository implements ContentRepository {
  readonly store = "mongodb" as const;
  private connection?: Connection;
  private models!: {
    Course: Model<Doc>;
    Lesson: Model<Doc>;
    Unit: Model<Doc>;
    PublishedCourse: Model<Doc>;
    PublishedLesson: Model<Doc>;
    Version: Model<Doc>;
    Media: Model<Doc>;
    PlacementItem: Model<Doc>;
  };

  constructor(
    private readonly uri: string,
    private readonly logger: Service["logger"],
  ) {}

  async start(): Promise<void> {
    // A connection of its own (not mongoose's default): several nodes may share a process.
    const connection = mongoose.createConnection(this.uri);
    connection.on("disconnected", () => this.logger.warn("MongoDB connection lost"));
    connection.on("reconnected", () => this.logger.info("MongoDB connection back"));
    await connection.asPromise();
    this.connection = connection;
    this.models = {
      Course: connection.model<Doc>("ContentCourse", courseSchema, "courses"),
      Lesson: connection.model<Doc>("ContentLesson", lessonSchema, "lessons"),
      Unit: connection.model<Doc>("ContentUnit", unitSchema, "units"),
      PublishedCourse: connection.model<Doc>(
        "ContentPublishedCourse",
        publishedCourseSchema,
        "published_courses",
      ),
      PublishedLesson: connection.model<Doc>(
        "ContentPublishedLesson",
        publishedLessonSchema,
        "published_lessons",
      ),
      Version: connection.model<Doc>("ContentVersion", versionSchema, "course_versions"),
      Media: connection.model<Doc>("ContentMedia", mediaSchema, "media"),
      PlacementItem: connection.model<Doc>(
        "ContentPlacementItem",
        placementItemSchema,
        "placement_items",
      ),
    };
    await Promise.all(Object.values(this.models).map(model => model.syncIndexes()));
  }

  /** The outbox of the documents that carry events, for the service's relay. */
  outbox(): MongoOutboxStore {
    return new MongoOutboxStore("content (MongoDB)", [
      this.models.Lesson,
      this.models.PublishedCourse,
    ]);
  }

  async stop(): Promise<void> {
    await this.connection?.close();
  }

  async ping(): Promise<void> {
    const db = this.connection?.db;
    if (!db) throw new Error("not connected");
    await db.admin().ping();
  }

  async countCourses(): Promise<number> {
    return this.models.Course.countDocuments();
  }

  async getCourse(id: string): Promise<CourseRecord | null> {
    return strip<CourseRecord>(await this.models.Course.findById(id).lean<Doc>());
  }

  async listCourses(ownerId: string | null, page: number, pageSize: number) {
    const filter = ownerId === null ? {} : { ownerId };
    const [total, docs] = await Promise.all([
      this.models.Course.countDocuments(filter),
      this.models.Course.find(filter)
        .sort({ createdAt: -1, _id: 1 })
        .skip((page - 1) * pageSize)
        .limit(pageSize)
        .lean<Doc[]>(),
    ]);
    return { rows: docs.map(d => strip<CourseRecord>(d) as CourseRecord), total };
  }

  async insertCourse(c: CourseRecord): Promise<void> {
    const { id, ...rest } = c;
    await this.models.Course.create({ _id: id, ...rest });
  }

  async updateCourse(id: string, patch: Partial<CourseRecord>): Promise<void> {
    const { id: _ignored, ...rest } = patch;
    await this.models.Course.updateOne({ _id: id }, { $set: rest });
  }

  /**
   * Takes the live version down first, then turns each draft lesson into a tombstone
   * carrying its `content.lesson.deleted`, then drops the course: cut short, the course is
   * still there and deleting it again finishes the job (each event stored exactly once).
   */
  async deleteCourse(id: string, tx: Tx): Promise<void> {
    await this.removeCarrier(this.models.PublishedCourse, { _id: id });
    await this.models.PublishedLesson.deleteMany({ courseId: id });
    await this.models.Version.deleteMany({ courseId: id });
    const lessons = await this.models.Lesson.find({ courseId: id, ...LIVE }, { _id: 1 }).lean<
      Doc[]
    >();
    for (const lesson of lessons) await this.deleteLesson(lesson._id, tx);
    await this.models.Unit.deleteMany({ courseId: id });
    await this.models.Course.deleteOne({ _id: id });
  }

  /** A document still carrying unpublished events becomes a tombstone instead (the relay removes it). */
  private async removeCarrier(model: Model<Doc>, filter: Record<string, unknown>): Promise<void> {
    await model.deleteMany({ ...filter, "outboxPending.0": { $exists: false } });
    await model.updateMany(filter, { $set: { deleted: true } });
  }

  async listUnits(courseId: string): Promise<CourseUnit[]> {
    const docs = await this.models.Unit.find({ courseId })
      .sort({ order: 1, createdAt: 1, _id: 1 })
      .lean<Doc[]>();
    return docs.map(d => strip<CourseUnit>(d) as CourseUnit);
  }

  async insertUnit(u: CourseUnit): Promise<void> {
    const { id, ...rest } = u;
    await this.models.Unit.create({ _id: id, ...rest });
  }

  async listLessons(courseId: string): Promise<LessonRecord[]> {
    const docs = await this.models.Lesson.find({ courseId, ...LIVE })
      .sort({ order: 1, createdAt: 1, _id: 1 })
      .lean<Doc[]>();
    return docs.map(d => MongoContentRepository.lesson(d));
  }

  private static lesson(d: Doc): LessonRecord {
    const l = strip<LessonRecord>(d) as LessonRecord;
    return {
      ...l,
      unitId: l.unitId ?? null,
      requires: l.requires ?? [],
      skills: l.skills ?? [],
      media: l.media ?? [],
      questions: questionsFromStore(l.questions),
      cards: l.cards ?? [],
    };
  }

  async getLesson(id: string): Promise<LessonRecord | null> {
    const doc = await this.models.Lesson.findOne({ _id: id, ...LIVE }).lean<Doc>();
    return doc ? MongoContentRepository.lesson(doc) : null;
  }

  async insertLesson(l: LessonRecord): Promise<void> {
    const { id, ...rest } = storedLesson(l);
    await this.models.Lesson.create({ _id: id, ...rest });
  }

  async updateLesson(l: LessonRecord): Promise<void> {
    const { id, ...rest } = storedLesson(l);
    await this.models.Lesson.replaceOne({ _id: id }, rest);
  }

  /** The lesson becomes a tombstone carrying its deletion event, in one write. */
  async deleteLesson(id: string, tx: Tx): Promise<void> {
    const events = eventsFor(
      tx,
      e => e.type === "content.lesson.deleted" && "lessonId" in e.data && e.data.lessonId === id,
    );
    if (events.length === 0) {
      await this.removeCarrier(this.models.Lesson, { _id: id });
      return;
    }
    await this.models.Lesson.updateOne({ _id: id }, withEvents({ deleted: true }, events));
  }

  async getPublishedCourse(id: string): Promise<PublishedCourse | null> {
    return strip<PublishedCourse>(
      await this.models.PublishedCourse.findOne({ _id: id, ...LIVE }).lean<Doc>(),
    );
  }

  async getPublishedLesson(id: string): Promise<PublishedLesson | null> {
    const doc = await this.models.PublishedLesson.findById(id).lean<Doc>();
    return doc ? publishedFromStore(doc.doc) : null;
  }

  /**
   * The lessons and the history first, then the live course document, which carries the
   * publish event: that write is the one that makes the version live.
   */
  async savePublished(c: PublishedCourse, lessons: PublishedLesson[], tx: Tx): Promise<void> {
    const { id, ...rest } = c;
    await this.models.PublishedLesson.deleteMany({ courseId: id });
    if (lessons.length > 0) {
      await this.models.PublishedLesson.insertMany(
        lessons.map(l => ({
          _id: l.id,
          courseId: id,
          courseVersion: c.version,
          doc: storedLesson(l),
        })),
      );
    }
    await this.models.Version.replaceOne(
      { _id: `${id}:${c.version}` },
      {
        courseId: id,
        version: c.version,
        snapshot: { course: c, lessons: lessons.map(storedLesson) },
      },
      { upsert: true },
    );
    const titleTokens = searchTokens(c.title);
    const fields = {
      ...rest,
      deleted: false,
      titleTokens,
      searchTokens: [...new Set([...titleTokens, ...searchTokens(c.description)])],
    };
    await this.models.PublishedCourse.updateOne(
      { _id: id },
      withEvents(
        fields,
        eventsFor(tx, e => e.type === "content.course.published"),
      ),
      { upsert: true },
    );
  }

  async withdrawPublishedLesson(courseId: string, lessonId: string): Promise<void> {
    await this.models.PublishedLesson.deleteOne({ _id: lessonId });
    // Read and set, not $pull with a condition: FerretDB v1 pulls exact values only.
    const course = await this.models.PublishedCourse.findById(courseId, { lessons: 1 }).lean<Doc>();
    const lessons = (course?.lessons ?? []) as Array<{ id: string }>;
    if (!lessons.some(l => l.id === lessonId)) return;
    await this.models.PublishedCourse.updateOne(
      { _id: courseId },
      { $set: { lessons: lessons.filter(l => l.id !== lessonId) } },
    );
  }

  /**
   * Every word of the query must occur (as websearch_to_tsquery asks in the PostgreSQL
   * store); matches rank by their words in the title (×4) and description, then by level
   * and newest. The index narrows to the matches; ranking them happens here.
   */
  async searchPublished(f: CourseFilter): Promise<{ rows: CourseCard[]; total: number }> {
    const filter: Record<string, unknown> = { ...LIVE };
    if (f.level) filter.level = f.level;
    if (f.topic) filter.topics = f.topic;
    const words = f.q ? searchTokens(f.q) : [];
    if (f.q && words.length === 0) return { rows: [], total: 0 };
    let docs: Doc[];
    let total: number;
    if (words.length > 0) {
      filter.searchTokens = { $all: words };
      const matches = await this.models.PublishedCourse.find(filter, {
        titleTokens: 1,
        level: 1,
        publishedAt: 1,
      }).lean<Array<Doc & { titleTokens?: string[]; level: string; publishedAt: string }>>();
      const score = (m: (typeof matches)[number]) =>
        words.reduce((sum, w) => sum + (m.titleTokens?.includes(w) ? TITLE_WEIGHT : 1), 0);
      const ranked = matches
        .map(m => ({ id: m._id, score: score(m), level: m.level, publishedAt: m.publishedAt }))
        .sort(
          (a, b) =>
            b.score - a.score ||
            a.level.localeCompare(b.level) ||
            b.publishedAt.localeCompare(a.publishedAt) ||
            a.id.localeCompare(b.id),
        );
      total = ranked.length;
      const pageIds = ranked.slice((f.page - 1) * f.pageSize, f.page * f.pageSize).map(r => r.id);
      const byId = new Map(
        (await this.models.PublishedCourse.find({ _id: { $in: pageIds } }).lean<Doc[]>()).map(d => [
          d._id,
          d,
        ]),
      );
      docs = pageIds.flatMap(id => byId.get(id) ?? []);
    } else {
      [total, docs] = await Promise.all([
        this.models.PublishedCourse.countDocuments(filter),
        this.models.PublishedCourse.find(filter)
          .sort({ level: 1, publishedAt: -1, _id: 1 })
          .skip((f.page - 1) * f.pageSize)
          .limit(f.pageSize)
          .lean<Doc[]>(),
      ]);
    }
    const rows = docs.map(d => {
      const c = strip<PublishedCourse>(d) as PublishedCourse;
      return {
        id: c.id,
        title: c.title,
        description: c.description,
        level: c.level,
        topics: c.topics,
        language: c.language,
        version: c.version,
        lessonCount: c.lessons.length,
        publishedAt: c.publishedAt,
      };
    });
    return { rows, total };
  }

  async publishedBriefs(ids: string[]): Promise<CourseBrief[]> {
    const docs = await this.models.PublishedCourse.find({ _id: { $in: ids }, ...LIVE }).lean<
      Doc[]
    >();
    return docs.map(d => {
      const c = strip<PublishedCourse>(d) as PublishedCourse;
      return {
        id: c.id,
        title: c.title,
        level: c.level,
        topics: c.topics,
        version: c.version,
        lessonCount: c.lessons.length,
      };
    });
  }

  async topicCounts(): Promise<Array<{ slug: string; count: number }>> {
    const rows = await this.models.PublishedCourse.aggregate<{ _id: string; count: number }>([
      { $match: LIVE },
      { $unwind: "$topics" },
      { $group: { _id: "$topics", count: { $sum: 1 } } },
    ]);
    return rows.map(r => ({ slug: r._id, count: r.count }));
  }

  async insertMedia(m: MediaRecord): Promise<void> {
    const { id, ...rest } = m;
    await this.models.Media.create({ _id: id, ...rest });
  }

  async getMedia(id: string): Promise<MediaRecord | null> {
    return strip<MediaRecord>(await this.models.Media.findById(id).lean<Doc>());
  }

  async getMediaMany(ids: string[]): Promise<MediaRecord[]> {
    const docs = await this.models.Media.find({ _id: { $in: ids } }).lean<Doc[]>();
    return docs.map(d => strip<MediaRecord>(d) as MediaRecord);
  }

  async placementItems(): Promise<PlacementItem[]> {
    const docs = await this.models.PlacementItem.find()
      .sort({ level: 1, _id: 1 })
      .lean<Array<Doc & { item: string }>>();
    return docs.map(d => JSON.parse(d.item) as PlacementItem);
  }

  /**
   * Inserts the new questions and sets the changed ones, one update each (FerretDB v1 does not
   * finish a bulk replace of existing documents); unchanged ones are not written.
   */
  async savePlacementItems(items: PlacementItem[]): Promise<void> {
    const stored = await this.models.PlacementItem.find(
      { _id: { $in: items.map(item => item.id) } },
      { item: 1 },
    ).lean<Array<Doc & { item: string }>>();
    const held = new Map(stored.map(d => [d._id, d.item]));
    const docs = items.map(item => ({
      _id: item.id,
      level: item.level,
      item: JSON.stringify(item),
    }));
    const fresh = docs.filter(doc => !held.has(doc._id));
    if (fresh.length > 0) {
      try {
        await this.models.PlacementItem.insertMany(fresh, { ordered: false });
      } catch (err) {
        // Another node starting at the same moment inserted them first: the same questions.
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    }
    for (const { _id, level, item } of docs.filter(
      d => held.has(d._id) && held.get(d._id) !== d.item,
    ))
      await this.models.PlacementItem.updateOne({ _id }, { $set: { level, item } });
  }
}
