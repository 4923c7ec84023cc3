import mongoose, { Schema, type Model } from "mongoose";
import MongooseDbAdapter from "moleculer-db-adapter-mongoose";
import type { Service } from "moleculer";
import type {
  CourseBrief,
  CourseCard,
  CourseRecord,
  PublishedCourse,
} from "../../models/course.model";
import type { LessonRecord, PublishedLesson } from "../../models/lesson.model";
import type { MediaRecord } from "../../models/media.model";
import type { ContentRepository, CourseFilter } from "./repository";

/**
 * MongoDB store (CONTENT_MONGO_URI): one collection per document kind, `_id` = our id.
 * Lesson documents are stored as they are; search uses a weighted text index.
 * Writes are not part of the caller's PostgreSQL outbox transaction (caveat: an event
 * may be lost if the outbox commit fails right after a MongoDB write).
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
    body: String,
    media: [String],
    questions: [mixed],
    cards: [mixed],
    createdAt: String,
    updatedAt: String,
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
  },
  opts,
);
publishedCourseSchema.index(
  { title: "text", description: "text" },
  { weights: { title: 4, description: 1 }, default_language: "english" },
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

type Doc = Record<string, unknown> & { _id: string };

function strip<T>(doc: Doc | null): T | null {
  if (!doc) return null;
  const { _id, ...rest } = doc;
  return { id: _id, ...rest } as T;
}

export class MongoContentRepository implements ContentRepository {
  readonly store = "mongodb" as const;
  private adapter?: MongooseDbAdapter<mongoose.Document>;
  private models!: {
    Course: Model<Doc>;
    Lesson: Model<Doc>;
    PublishedCourse: Model<Doc>;
    PublishedLesson: Model<Doc>;
    Version: Model<Doc>;
    Media: Model<Doc>;
  };

  constructor(
    private readonly uri: string,
    private readonly logger: Service["logger"],
  ) {}

  async start(): Promise<void> {
    const Course =
      mongoose.models.ContentCourse ??
      mongoose.model<Doc>("ContentCourse", courseSchema, "courses");
    // The moleculer-db adapter owns the connection (reconnects, logging); the other
    // collections share it.
    const adapter = new MongooseDbAdapter<mongoose.Document>(this.uri);
    adapter.init(
      null as never,
      { schema: { model: Course }, settings: {}, logger: this.logger } as never,
    );
    await adapter.connect();
    this.adapter = adapter;
    this.models = {
      Course: mongoose.model<Doc>("ContentCourse"),
      Lesson:
        mongoose.models.ContentLesson ??
        mongoose.model<Doc>("ContentLesson", lessonSchema, "lessons"),
      PublishedCourse:
        mongoose.models.ContentPublishedCourse ??
        mongoose.model<Doc>("ContentPublishedCourse", publishedCourseSchema, "published_courses"),
      PublishedLesson:
        mongoose.models.ContentPublishedLesson ??
        mongoose.model<Doc>("ContentPublishedLesson", publishedLessonSchema, "published_lessons"),
      Version:
        mongoose.models.ContentVersion ??
        mongoose.model<Doc>("ContentVersion", versionSchema, "course_versions"),
      Media:
        mongoose.models.ContentMedia ?? mongoose.model<Doc>("ContentMedia", mediaSchema, "media"),
    } as typeof this.models;
    await Promise.all(Object.values(this.models).map(model => model.syncIndexes()));
  }

  async stop(): Promise<void> {
    await this.adapter?.disconnect();
  }

  async ping(): Promise<void> {
    const db = mongoose.connection.db;
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

  async deleteCourse(id: string): Promise<void> {
    await Promise.all([
      this.models.Course.deleteOne({ _id: id }),
      this.models.Lesson.deleteMany({ courseId: id }),
      this.models.PublishedCourse.deleteOne({ _id: id }),
      this.models.PublishedLesson.deleteMany({ courseId: id }),
      this.models.Version.deleteMany({ courseId: id }),
    ]);
  }

  async listLessons(courseId: string): Promise<LessonRecord[]> {
    const docs = await this.models.Lesson.find({ courseId })
      .sort({ order: 1, createdAt: 1, _id: 1 })
      .lean<Doc[]>();
    return docs.map(d => MongoContentRepository.lesson(d));
  }

  private static lesson(d: Doc): LessonRecord {
    const l = strip<LessonRecord>(d) as LessonRecord;
    return { ...l, media: l.media ?? [], questions: l.questions ?? [], cards: l.cards ?? [] };
  }

  async getLesson(id: string): Promise<LessonRecord | null> {
    const doc = await this.models.Lesson.findById(id).lean<Doc>();
    return doc ? MongoContentRepository.lesson(doc) : null;
  }

  async insertLesson(l: LessonRecord): Promise<void> {
    const { id, ...rest } = l;
    await this.models.Lesson.create({ _id: id, ...rest });
  }

  async updateLesson(l: LessonRecord): Promise<void> {
    const { id, ...rest } = l;
    await this.models.Lesson.replaceOne({ _id: id }, rest);
  }

  async deleteLesson(id: string): Promise<void> {
    await this.models.Lesson.deleteOne({ _id: id });
  }

  async getPublishedCourse(id: string): Promise<PublishedCourse | null> {
    return strip<PublishedCourse>(await this.models.PublishedCourse.findById(id).lean<Doc>());
  }

  async getPublishedLesson(id: string): Promise<PublishedLesson | null> {
    const doc = await this.models.PublishedLesson.findById(id).lean<Doc>();
    return doc ? (doc.doc as PublishedLesson) : null;
  }

  async savePublished(c: PublishedCourse, lessons: PublishedLesson[]): Promise<void> {
    const { id, ...rest } = c;
    await this.models.PublishedCourse.replaceOne({ _id: id }, rest, { upsert: true });
    await this.models.PublishedLesson.deleteMany({ courseId: id });
    if (lessons.length > 0) {
      await this.models.PublishedLesson.insertMany(
        lessons.map(l => ({ _id: l.id, courseId: id, courseVersion: c.version, doc: l })),
      );
    }
    await this.models.Version.replaceOne(
      { _id: `${id}:${c.version}` },
      { courseId: id, version: c.version, snapshot: { course: c, lessons } },
      { upsert: true },
    );
  }

  async withdrawPublishedLesson(courseId: string, lessonId: string): Promise<void> {
    await this.models.PublishedLesson.deleteOne({ _id: lessonId });
    await this.models.PublishedCourse.updateOne(
      { _id: courseId },
      { $pull: { lessons: { id: lessonId } } },
    );
  }

  async searchPublished(f: CourseFilter): Promise<{ rows: CourseCard[]; total: number }> {
    const filter: Record<string, unknown> = {};
    if (f.level) filter.level = f.level;
    if (f.topic) filter.topics = f.topic;
    if (f.q) filter.$text = { $search: f.q, $language: "english" };
    const sort: Record<string, 1 | -1 | { $meta: "textScore" }> = f.q
      ? { score: { $meta: "textScore" }, level: 1, publishedAt: -1 }
      : { level: 1, publishedAt: -1, _id: 1 };
    const projection = f.q ? { score: { $meta: "textScore" } } : {};
    const [total, docs] = await Promise.all([
      this.models.PublishedCourse.countDocuments(filter),
      this.models.PublishedCourse.find(filter, projection)
        .sort(sort)
        .skip((f.page - 1) * f.pageSize)
        .limit(f.pageSize)
        .lean<Doc[]>(),
    ]);
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
    const docs = await this.models.PublishedCourse.find({ _id: { $in: ids } }).lean<Doc[]>();
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
}
