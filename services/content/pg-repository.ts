import type { Sequelize, Transaction } from "sequelize";
import { execute, selectRows } from "../../lib/db/sql";
import type {
  CourseBrief,
  CourseCard,
  CourseDescription,
  CourseRecord,
  CourseUnit,
  PublishedCourse,
  UnitOutline,
} from "../../models/course.model";
import type {
  LessonDocument,
  LessonOutline,
  LessonRecord,
  PublishedLesson,
} from "../../models/lesson.model";
import type { MediaRecord } from "../../models/media.model";
import type { PlacementItem } from "../../models/placement.model";
import type { ContentRepository, CourseFilter, Tx } from "./repository";

type Row = Record<string, unknown>;

const iso = (value: unknown): string => new Date(value as string | Date).toISOString();
const isoOrNull = (value: unknown): string | null => (value == null ? null : iso(value));

/** What the catalogue shows of a course, the same columns in every course table. */
function descriptionOf(r: Row): CourseDescription {
  return {
    title: r.title as string,
    description: r.description as string,
    level: r.level as CourseDescription["level"],
    topics: r.topics as string[],
    language: r.language as string,
  };
}

function courseOf(r: Row): CourseRecord {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    access: r.access === "premium" ? "premium" : "free",
    ...descriptionOf(r),
    status: r.status as CourseRecord["status"],
    version: Number(r.version),
    hasUnpublishedChanges: Boolean(r.has_unpublished_changes),
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
    publishedAt: isoOrNull(r.published_at),
  };
}

function lessonOf(r: Row): LessonRecord {
  const doc = r.doc as LessonDocument;
  return {
    id: r.id as string,
    courseId: r.course_id as string,
    kind: r.kind as LessonRecord["kind"],
    title: r.title as string,
    order: Number(r.position),
    unitId: (r.unit_id as string | null) ?? null,
    requires: (r.requires as string[] | null) ?? [],
    body: doc.body,
    media: doc.media ?? [],
    questions: doc.questions ?? [],
    cards: doc.cards ?? [],
    skills: doc.skills ?? [],
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

function publishedOf(r: Row): PublishedCourse {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    ...descriptionOf(r),
    status: "published",
    version: Number(r.version),
    publishedAt: iso(r.published_at),
    lessons: r.lessons as LessonOutline[],
    units: (r.units as UnitOutline[] | null) ?? [],
  };
}

function unitOf(r: Row): CourseUnit {
  return {
    id: r.id as string,
    courseId: r.course_id as string,
    title: r.title as string,
    order: Number(r.position),
    createdAt: iso(r.created_at),
  };
}

function cardOf(r: Row): CourseCard {
  return {
    id: r.id as string,
    ...descriptionOf(r),
    version: Number(r.version),
    lessonCount: Number(r.lesson_count),
    publishedAt: iso(r.published_at),
  };
}

function mediaOf(r: Row): MediaRecord {
  return {
    id: r.id as string,
    ownerId: r.owner_id as string,
    contentType: r.content_type as string,
    size: Number(r.size),
    storageKey: r.storage_key as string,
    filename: (r.filename as string | null) ?? null,
    createdAt: iso(r.created_at),
  };
}

const COURSE_COLUMNS: Record<string, string> = {
  ownerId: "owner_id",
  title: "title",
  description: "description",
  level: "level",
  topics: "topics",
  language: "language",
  status: "status",
  version: "version",
  hasUnpublishedChanges: "has_unpublished_changes",
  access: "access",
  updatedAt: "updated_at",
  publishedAt: "published_at",
};

/** PostgreSQL store: plain SQL over the DbMixin's Sequelize connection (schema "content"). */
export class PgContentRepository implements ContentRepository {
  readonly store = "postgres" as const;
  private readonly s: string;

  constructor(
    private readonly sequelize: Sequelize,
    schema = "content",
  ) {
    this.s = `"${schema}"`;
  }

  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  async ping(): Promise<void> {
    await this.sequelize.query("SELECT 1");
  }

  private rows(sql: string, bind: unknown[] = [], tx?: Tx): Promise<Row[]> {
    return selectRows<Row>(this.sequelize, sql, {
      bind,
      transaction: tx as Transaction | undefined,
    });
  }

  private async exec(sql: string, bind: unknown[], tx: Tx): Promise<void> {
    await execute(this.sequelize, sql, { bind, transaction: tx as Transaction | undefined });
  }

  /** One page of `SELECT columns FROM source` and the number of rows of all pages. */
  private async page(
    q: { columns: string; source: string; orderBy: string; bind: unknown[] },
    page: number,
    pageSize: number,
  ): Promise<{ rows: Row[]; total: number }> {
    const [count] = await this.rows(`SELECT count(*)::int AS n FROM ${q.source}`, q.bind);
    const rows = await this.rows(
      `SELECT ${q.columns} FROM ${q.source} ORDER BY ${q.orderBy}
       LIMIT ${Number(pageSize)} OFFSET ${(Number(page) - 1) * Number(pageSize)}`,
      q.bind,
    );
    return { rows, total: Number(count.n) };
  }

  async countCourses(): Promise<number> {
    const [row] = await this.rows(`SELECT count(*)::int AS n FROM ${this.s}.courses`);
    return Number(row.n);
  }

  async getCourse(id: string, tx?: Tx): Promise<CourseRecord | null> {
    const [row] = await this.rows(`SELECT * FROM ${this.s}.courses WHERE id = $1`, [id], tx);
    return row ? courseOf(row) : null;
  }

  async listCourses(ownerId: string | null, page: number, pageSize: number) {
    const where = ownerId === null ? "" : "WHERE owner_id = $1";
    const bind = ownerId === null ? [] : [ownerId];
    const { rows, total } = await this.page(
      {
        columns: "*",
        source: `${this.s}.courses ${where}`,
        orderBy: "created_at DESC, id",
        bind,
      },
      page,
      pageSize,
    );
    return { rows: rows.map(courseOf), total };
  }

  async insertCourse(c: CourseRecord, tx: Tx): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.courses (id, owner_id, title, description, level, topics, language, status, version,
         has_unpublished_changes, created_at, updated_at, published_at)
       VALUES ($1, $2, $3, $4, $5, $6::text[], $7, $8, $9, $10, $11, $12, $13)`,
      [
        c.id,
        c.ownerId,
        c.title,
        c.description,
        c.level,
        c.topics,
        c.language,
        c.status,
        c.version,
        c.hasUnpublishedChanges,
        c.createdAt,
        c.updatedAt,
        c.publishedAt,
      ],
      tx,
    );
  }

  async updateCourse(id: string, patch: Partial<CourseRecord>, tx: Tx): Promise<void> {
    const sets: string[] = [];
    const bind: unknown[] = [id];
    for (const [key, value] of Object.entries(patch)) {
      const column = COURSE_COLUMNS[key];
      if (!column || value === undefined) continue;
      bind.push(value);
      sets.push(`${column} = $${bind.length}${column === "topics" ? "::text[]" : ""}`);
    }
    if (sets.length === 0) return;
    await this.exec(`UPDATE ${this.s}.courses SET ${sets.join(", ")} WHERE id = $1`, bind, tx);
  }

  async deleteCourse(id: string, tx: Tx): Promise<void> {
    // Lessons, the published version and the history go with it (ON DELETE CASCADE).
    await this.exec(`DELETE FROM ${this.s}.courses WHERE id = $1`, [id], tx);
  }

  async listUnits(courseId: string, tx?: Tx): Promise<CourseUnit[]> {
    const rows = await this.rows(
      `SELECT * FROM ${this.s}.units WHERE course_id = $1 ORDER BY position, created_at, id`,
      [courseId],
      tx,
    );
    return rows.map(unitOf);
  }

  async insertUnit(u: CourseUnit, tx: Tx): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.units (id, course_id, title, position, created_at) VALUES ($1, $2, $3, $4, $5)`,
      [u.id, u.courseId, u.title, u.order, u.createdAt],
      tx,
    );
  }

  async listLessons(courseId: string, tx?: Tx): Promise<LessonRecord[]> {
    const rows = await this.rows(
      `SELECT * FROM ${this.s}.lessons WHERE course_id = $1 ORDER BY position, created_at, id`,
      [courseId],
      tx,
    );
    return rows.map(lessonOf);
  }

  async getLesson(id: string, tx?: Tx): Promise<LessonRecord | null> {
    const [row] = await this.rows(`SELECT * FROM ${this.s}.lessons WHERE id = $1`, [id], tx);
    return row ? lessonOf(row) : null;
  }

  private static doc(l: LessonRecord): string {
    const doc: LessonDocument = {
      body: l.body,
      media: l.media,
      questions: l.questions,
      cards: l.cards,
      skills: l.skills,
    };
    return JSON.stringify(doc);
  }

  async insertLesson(l: LessonRecord, tx: Tx): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.lessons (id, course_id, position, kind, title, doc, created_at, updated_at, unit_id, requires)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::text[])`,
      [
        l.id,
        l.courseId,
        l.order,
        l.kind,
        l.title,
        PgContentRepository.doc(l),
        l.createdAt,
        l.updatedAt,
        l.unitId,
        l.requires,
      ],
      tx,
    );
  }

  async updateLesson(l: LessonRecord, tx: Tx): Promise<void> {
    await this.exec(
      `UPDATE ${this.s}.lessons SET position = $2, kind = $3, title = $4, doc = $5::jsonb, updated_at = $6,
         unit_id = $7, requires = $8::text[] WHERE id = $1`,
      [
        l.id,
        l.order,
        l.kind,
        l.title,
        PgContentRepository.doc(l),
        l.updatedAt,
        l.unitId,
        l.requires,
      ],
      tx,
    );
  }

  async deleteLesson(id: string, tx: Tx): Promise<void> {
    await this.exec(`DELETE FROM ${this.s}.lessons WHERE id = $1`, [id], tx);
  }

  async getPublishedCourse(id: string): Promise<PublishedCourse | null> {
    const [row] = await this.rows(`SELECT * FROM ${this.s}.published_courses WHERE id = $1`, [id]);
    return row ? publishedOf(row) : null;
  }

  async getPublishedLesson(id: string): Promise<PublishedLesson | null> {
    const [row] = await this.rows(`SELECT * FROM ${this.s}.published_lessons WHERE id = $1`, [id]);
    if (!row) return null;
    const doc = row.doc as Omit<
      PublishedLesson,
      "id" | "courseId" | "courseVersion" | "kind" | "title" | "order"
    >;
    return {
      ...doc,
      id: row.id as string,
      courseId: row.course_id as string,
      courseVersion: Number(row.course_version),
      kind: row.kind as PublishedLesson["kind"],
      title: row.title as string,
      order: Number(row.position),
    };
  }

  async savePublished(c: PublishedCourse, lessons: PublishedLesson[], tx: Tx): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.published_courses (id, owner_id, version, title, description, level, topics, language, published_at, lessons, units)
       VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10::jsonb, $11::jsonb)
       ON CONFLICT (id) DO UPDATE SET owner_id = EXCLUDED.owner_id, version = EXCLUDED.version, title = EXCLUDED.title,
         description = EXCLUDED.description, level = EXCLUDED.level, topics = EXCLUDED.topics,
         language = EXCLUDED.language, published_at = EXCLUDED.published_at, lessons = EXCLUDED.lessons,
         units = EXCLUDED.units`,
      [
        c.id,
        c.ownerId,
        c.version,
        c.title,
        c.description,
        c.level,
        c.topics,
        c.language,
        c.publishedAt,
        JSON.stringify(c.lessons),
        JSON.stringify(c.units ?? []),
      ],
      tx,
    );
    await this.exec(`DELETE FROM ${this.s}.published_lessons WHERE course_id = $1`, [c.id], tx);
    for (const l of lessons) {
      const { id, courseId, courseVersion, kind, title, order, ...doc } = l;
      await this.exec(
        `INSERT INTO ${this.s}.published_lessons (id, course_id, course_version, position, kind, title, doc)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)`,
        [id, courseId, courseVersion, order, kind, title, JSON.stringify(doc)],
        tx,
      );
    }
    await this.exec(
      `INSERT INTO ${this.s}.course_versions (course_id, version, snapshot, published_at) VALUES ($1, $2, $3::jsonb, $4)`,
      [c.id, c.version, JSON.stringify({ course: c, lessons }), c.publishedAt],
      tx,
    );
  }

  async withdrawPublishedLesson(courseId: string, lessonId: string, tx: Tx): Promise<void> {
    await this.exec(`DELETE FROM ${this.s}.published_lessons WHERE id = $1`, [lessonId], tx);
    await this.exec(
      `UPDATE ${this.s}.published_courses
          SET lessons = COALESCE((SELECT jsonb_agg(l) FROM jsonb_array_elements(lessons) AS l WHERE l->>'id' <> $2), '[]'::jsonb)
        WHERE id = $1`,
      [courseId, lessonId],
      tx,
    );
  }

  async searchPublished(f: CourseFilter): Promise<{ rows: CourseCard[]; total: number }> {
    const where: string[] = [];
    const bind: unknown[] = [];
    if (f.level) {
      bind.push(f.level);
      where.push(`level = $${bind.length}`);
    }
    if (f.topic) {
      bind.push(f.topic);
      where.push(`$${bind.length} = ANY (topics)`);
    }
    let rank = "0";
    if (f.q) {
      bind.push(f.q);
      const query = `websearch_to_tsquery('english', $${bind.length})`;
      where.push(`search @@ ${query}`);
      rank = `ts_rank(search, ${query})`;
    }
    const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
    const { rows, total } = await this.page(
      {
        columns: `id, title, description, level, topics, language, version, published_at,
              jsonb_array_length(lessons) AS lesson_count, ${rank} AS rank`,
        source: `${this.s}.published_courses ${clause}`,
        orderBy: "rank DESC, level, published_at DESC, id",
        bind,
      },
      f.page,
      f.pageSize,
    );
    return { rows: rows.map(cardOf), total };
  }

  async publishedBriefs(ids: string[]): Promise<CourseBrief[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows(
      `SELECT id, title, level, topics, version, jsonb_array_length(lessons) AS lesson_count
         FROM ${this.s}.published_courses WHERE id = ANY ($1::text[])`,
      [ids],
    );
    return rows.map(r => ({
      id: r.id as string,
      title: r.title as string,
      level: r.level as CourseBrief["level"],
      topics: r.topics as string[],
      version: Number(r.version),
      lessonCount: Number(r.lesson_count),
    }));
  }

  async topicCounts(): Promise<Array<{ slug: string; count: number }>> {
    const rows = await this.rows(
      `SELECT t AS slug, count(*)::int AS n FROM ${this.s}.published_courses, unnest(topics) AS t GROUP BY t`,
    );
    return rows.map(r => ({ slug: r.slug as string, count: Number(r.n) }));
  }

  async insertMedia(m: MediaRecord): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.media (id, owner_id, content_type, size, storage_key, filename, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [m.id, m.ownerId, m.contentType, m.size, m.storageKey, m.filename, m.createdAt],
      undefined,
    );
  }

  async getMedia(id: string): Promise<MediaRecord | null> {
    const [row] = await this.rows(`SELECT * FROM ${this.s}.media WHERE id = $1`, [id]);
    return row ? mediaOf(row) : null;
  }

  async getMediaMany(ids: string[], tx?: Tx): Promise<MediaRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.rows(
      `SELECT * FROM ${this.s}.media WHERE id = ANY ($1::text[])`,
      [ids],
      tx,
    );
    return rows.map(mediaOf);
  }

  async placementItems(): Promise<PlacementItem[]> {
    const rows = await this.rows(`SELECT item FROM ${this.s}.placement_items ORDER BY level, id`);
    return rows.map(r => r.item as PlacementItem);
  }

  async savePlacementItems(items: PlacementItem[]): Promise<void> {
    await this.exec(
      `INSERT INTO ${this.s}.placement_items (id, level, item)
       SELECT e->>'id', e->>'level', e FROM jsonb_array_elements($1::jsonb) AS e
       ON CONFLICT (id) DO UPDATE SET level = EXCLUDED.level, item = EXCLUDED.item, updated_at = now()`,
      [JSON.stringify(items)],
      undefined,
    );
  }
}
