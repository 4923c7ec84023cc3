import type { Migration } from "../../mixins/db.mixin";

/**
 * Drafts (courses, lessons) are what authors edit; published_courses / published_lessons
 * hold the live immutable version learners read; course_versions keeps every version ever
 * published. Lesson content is one JSONB document (body, media, questions, cards).
 */
export const contentMigrations: Migration[] = [
  {
    name: "0001-content-init",
    up: async ({ context: { sequelize, schema } }) => {
      const s = `"${schema}"`;
      await sequelize.query(`
        CREATE TABLE IF NOT EXISTS ${s}.courses (
          id text PRIMARY KEY,
          owner_id text NOT NULL,
          title text NOT NULL,
          description text NOT NULL DEFAULT '',
          level text NOT NULL,
          topics text[] NOT NULL DEFAULT '{}',
          language text NOT NULL DEFAULT 'en',
          status text NOT NULL DEFAULT 'draft',
          version integer NOT NULL DEFAULT 0,
          has_unpublished_changes boolean NOT NULL DEFAULT true,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now(),
          published_at timestamptz
        );
        CREATE INDEX IF NOT EXISTS courses_owner_idx ON ${s}.courses (owner_id, created_at DESC);

        CREATE TABLE IF NOT EXISTS ${s}.lessons (
          id text PRIMARY KEY,
          course_id text NOT NULL REFERENCES ${s}.courses (id) ON DELETE CASCADE,
          position integer NOT NULL,
          kind text NOT NULL,
          title text NOT NULL,
          doc jsonb NOT NULL DEFAULT '{}'::jsonb,
          created_at timestamptz NOT NULL DEFAULT now(),
          updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS lessons_course_idx ON ${s}.lessons (course_id, position, created_at);

        CREATE TABLE IF NOT EXISTS ${s}.published_courses (
          id text PRIMARY KEY REFERENCES ${s}.courses (id) ON DELETE CASCADE,
          owner_id text NOT NULL,
          version integer NOT NULL,
          title text NOT NULL,
          description text NOT NULL,
          level text NOT NULL,
          topics text[] NOT NULL,
          language text NOT NULL,
          published_at timestamptz NOT NULL,
          lessons jsonb NOT NULL DEFAULT '[]'::jsonb,
          search tsvector GENERATED ALWAYS AS (
            setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', description), 'B')
          ) STORED
        );
        CREATE INDEX IF NOT EXISTS published_courses_search_idx ON ${s}.published_courses USING GIN (search);
        CREATE INDEX IF NOT EXISTS published_courses_topics_idx ON ${s}.published_courses USING GIN (topics);
        CREATE INDEX IF NOT EXISTS published_courses_level_idx ON ${s}.published_courses (level, published_at DESC);

        CREATE TABLE IF NOT EXISTS ${s}.published_lessons (
          id text PRIMARY KEY,
          course_id text NOT NULL REFERENCES ${s}.published_courses (id) ON DELETE CASCADE,
          course_version integer NOT NULL,
          position integer NOT NULL,
          kind text NOT NULL,
          title text NOT NULL,
          doc jsonb NOT NULL
        );
        CREATE INDEX IF NOT EXISTS published_lessons_course_idx ON ${s}.published_lessons (course_id, position);

        CREATE TABLE IF NOT EXISTS ${s}.course_versions (
          course_id text NOT NULL REFERENCES ${s}.courses (id) ON DELETE CASCADE,
          version integer NOT NULL,
          snapshot jsonb NOT NULL,
          published_at timestamptz NOT NULL,
          PRIMARY KEY (course_id, version)
        );

        CREATE TABLE IF NOT EXISTS ${s}.media (
          id text PRIMARY KEY,
          owner_id text NOT NULL,
          content_type text NOT NULL,
          size integer NOT NULL,
          storage_key text NOT NULL,
          filename text,
          created_at timestamptz NOT NULL DEFAULT now()
        );
      `);
    },
  },
  {
    // Units group a course's lessons; a lesson names its unit and the lessons it requires.
    // The live version keeps its units beside its lesson outline (which names each lesson's unit).
    name: "0002-content-units-prerequisites",
    up: async ({ context: { sequelize, schema } }) => {
      const s = `"${schema}"`;
      await sequelize.query(`
        CREATE TABLE IF NOT EXISTS ${s}.units (
          id text PRIMARY KEY,
          course_id text NOT NULL REFERENCES ${s}.courses (id) ON DELETE CASCADE,
          title text NOT NULL,
          position integer NOT NULL,
          created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX IF NOT EXISTS units_course_idx ON ${s}.units (course_id, position, created_at);
        ALTER TABLE ${s}.lessons
          ADD COLUMN IF NOT EXISTS unit_id text REFERENCES ${s}.units (id) ON DELETE SET NULL,
          ADD COLUMN IF NOT EXISTS requires text[] NOT NULL DEFAULT '{}';
        ALTER TABLE ${s}.published_courses
          ADD COLUMN IF NOT EXISTS units jsonb NOT NULL DEFAULT '[]'::jsonb;
      `);
    },
  },
];
