import type { Transaction } from "sequelize";
import { v5 as uuidv5 } from "uuid";
import type { XapiStatement, XapiStatements } from "../../models/xapi.model";
import type { Lrs } from "./lrs";
import * as store from "./store";

/**
 * The learner's record as xAPI 1.0.3 statements: a passed or failed attempt at a quiz, each of
 * its questions answered, a lesson or course completed, a flashcard reviewed (experienced).
 * Every statement's id is derived from the row it tells of, so telling it twice (to a client
 * or to an LRS) is the same statement; activity ids are addresses under PUBLIC_URL.
 */

export interface XapiDeps {
  db: store.Db;
  publicUrl: string;
  /** Where statements are also sent (XAPI_LRS_URL); undefined: only served at /me/xapi. */
  lrs?: Lrs;
}

/** At most this many statements an answer; the client asks again with `since` = the last timestamp. */
const PAGE = 500;
const STATEMENT_NAMESPACE = "6f1c3c1e-4a8e-5d0b-9a4e-2b7c0c4f9e11";
const ADL = "http://adlnet.gov/expapi";
const RATINGS = ["again", "hard", "good", "easy"];

const verb = (name: "answered" | "completed" | "experienced" | "failed" | "passed") => ({
  id: `${ADL}/verbs/${name}`,
  display: { "en-US": name },
});

export async function myStatements(
  deps: XapiDeps,
  userId: string,
  since: Date,
  t?: Transaction,
): Promise<XapiStatements> {
  const record = await store.learningSince(deps.db, userId, since, PAGE, t);
  const url = (path: string) => `${deps.publicUrl}${path}`;
  const lessonUrl = (id: string) => url(`/lessons/${encodeURIComponent(id)}`);
  const courseUrl = (id: string) => url(`/courses/${encodeURIComponent(id)}`);
  const activity = (id: string, type: string, name?: string | null) => ({
    objectType: "Activity" as const,
    id,
    definition: {
      type: `${ADL}/activities/${type}`,
      ...(name ? { name: { "en-US": name } } : {}),
    },
  });
  const course = (id: string, title: string | null) => activity(courseUrl(id), "course", title);
  const statement = (
    key: string,
    at: Date,
    rest: Omit<XapiStatement, "id" | "actor" | "timestamp" | "version" | "context"> & {
      parents: Array<ReturnType<typeof activity>>;
    },
  ): XapiStatement => {
    const { parents, ...said } = rest;
    return {
      id: uuidv5(`${deps.publicUrl}|${userId}|${key}`, STATEMENT_NAMESPACE),
      actor: { objectType: "Agent", account: { homePage: deps.publicUrl, name: userId } },
      ...said,
      context: {
        platform: "Lingomesh",
        language: "en",
        ...(parents.length > 0 ? { contextActivities: { parent: parents } } : {}),
      },
      timestamp: at.toISOString(),
      version: "1.0.3",
    };
  };

  const statements: XapiStatement[] = [];
  for (const a of record.attempts) {
    const lesson = activity(lessonUrl(a.lesson_id), "assessment");
    const parent = course(a.course_id, a.course_title);
    for (const q of a.results) {
      statements.push(
        statement(`attempt:${a.id}:${q.questionId}`, a.created_at, {
          verb: verb("answered"),
          object: activity(
            `${lessonUrl(a.lesson_id)}/questions/${encodeURIComponent(q.questionId)}`,
            "cmi.interaction",
          ),
          result: { success: q.correct, score: { scaled: round(q.credit) } },
          parents: [lesson, parent],
        }),
      );
    }
    statements.push(
      statement(`attempt:${a.id}`, a.created_at, {
        verb: verb(a.passed ? "passed" : "failed"),
        object: lesson,
        result: {
          success: a.passed,
          score: {
            scaled: a.max_score > 0 ? round(a.score / a.max_score) : 0,
            raw: a.score,
            min: 0,
            max: a.max_score,
          },
        },
        parents: [parent],
      }),
    );
  }
  for (const c of record.completions) {
    statements.push(
      statement(`lesson:${c.lesson_id}`, c.first_completed_at, {
        verb: verb("completed"),
        object: activity(lessonUrl(c.lesson_id), "lesson"),
        result: { completion: true },
        parents: [course(c.course_id, c.course_title)],
      }),
    );
  }
  for (const c of record.courses) {
    statements.push(
      statement(`course:${c.course_id}`, c.completed_at, {
        verb: verb("completed"),
        object: course(c.course_id, c.course_title),
        result: { completion: true },
        parents: [],
      }),
    );
  }
  for (const r of record.reviews) {
    statements.push(
      statement(`review:${r.id}`, r.reviewed_at, {
        verb: verb("experienced"),
        object: activity(
          `${lessonUrl(r.lesson_id)}/cards/${encodeURIComponent(r.card_id)}`,
          "interaction",
        ),
        result: { response: RATINGS[r.rating - 1] ?? String(r.rating) },
        parents: [activity(lessonUrl(r.lesson_id), "lesson")],
      }),
    );
  }
  statements.sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  if (statements.length <= PAGE) return { statements };
  // A page ends before the instant it would cut through: asking again `since` its last
  // timestamp then misses none of the statements of one instant (an attempt's answers).
  const cut = statements[PAGE].timestamp;
  const whole = statements.slice(0, PAGE).filter(s => s.timestamp < cut);
  return { statements: whole.length > 0 ? whole : statements.slice(0, PAGE) };
}

const round = (value: number) => Math.round(value * 10_000) / 10_000;

/** The learner's statements of one instant (`at` of a progress.xapi.recorded event), sent to the LRS. */
export async function sendRecorded(
  deps: XapiDeps,
  event: { userId: string; at: string },
  t: Transaction,
): Promise<number> {
  if (!deps.lrs) return 0;
  const at = new Date(event.at);
  const { statements } = await myStatements(deps, event.userId, new Date(at.getTime() - 1), t);
  const of = statements.filter(s => s.timestamp === event.at);
  await deps.lrs.send(of);
  return of.length;
}
