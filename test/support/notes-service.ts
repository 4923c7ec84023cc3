import type { Context, ServiceSchema, ServiceSettingSchema } from "moleculer";
import {
  DataTypes,
  type Model,
  type ModelAttributes,
  type ModelStatic,
  type Optional,
  type Sequelize,
} from "sequelize";
import type { DbServiceMethods, DbServiceThis, DbServiceVars } from "../../mixins/db.mixin";

/**
 * The note service the DbMixin suites run: a `notes` table through a Sequelize model and the
 * few plain actions the suites call (create, get, count).
 */

export interface Note {
  id: number;
  text: string;
  tags?: string[];
}

type NoteModel = ModelStatic<Model<Note, Optional<Note, "id">>>;
export type NotesThis = DbServiceThis<{ Note: NoteModel }>;
export type NotesSchema = ServiceSchema<
  ServiceSettingSchema,
  DbServiceMethods,
  DbServiceVars<{ Note: NoteModel }>
>;

/** The `models` option of DbMixin: `tags` adds a JSONB column (the embedded-store suite). */
export function noteModels(opts: { tags?: boolean } = {}) {
  const attributes: ModelAttributes<Model<Note, Optional<Note, "id">>, Note> = {
    id: { type: DataTypes.INTEGER, primaryKey: true, autoIncrement: true },
    text: { type: DataTypes.TEXT, allowNull: false },
    ...(opts.tags ? { tags: { type: DataTypes.JSONB, allowNull: false, defaultValue: [] } } : {}),
  };
  return (sequelize: Sequelize, schema: string): { Note: NoteModel } => ({
    Note: sequelize.define("note", attributes, { tableName: "notes", timestamps: false, schema }),
  });
}

export const noteActions = {
  create: {
    params: { text: "string", tags: { type: "array", items: "string", optional: true } },
    async handler(this: NotesThis, ctx: Context<{ text: string; tags?: string[] }>): Promise<Note> {
      const row = await this.models.Note.create(ctx.params);
      await this.clearCache(ctx);
      return row.get({ plain: true });
    },
  },
  get: {
    params: { id: "number" },
    async handler(this: NotesThis, ctx: Context<{ id: number }>): Promise<Note | null> {
      const row = await this.models.Note.findByPk(ctx.params.id);
      return row ? row.get({ plain: true }) : null;
    },
  },
  count: {
    async handler(this: NotesThis): Promise<number> {
      return this.models.Note.count();
    },
  },
};

/** A cached read (which node ran it goes into `handled`; a cache hit runs none) and a change. */
export function cachedNoteActions(handled: string[]) {
  return {
    read: {
      cache: { keys: ["id"] },
      params: { id: "number" },
      async handler(this: NotesThis, ctx: Context<{ id: number }>): Promise<Note | null> {
        handled.push(this.broker.nodeID);
        const row = await this.models.Note.findByPk(ctx.params.id);
        return row ? row.get({ plain: true }) : null;
      },
    },
    rename: {
      params: { id: "number", text: "string" },
      async handler(this: NotesThis, ctx: Context<{ id: number; text: string }>): Promise<void> {
        await this.models.Note.update({ text: ctx.params.text }, { where: { id: ctx.params.id } });
        await this.clearCache(ctx);
      },
    },
  };
}
