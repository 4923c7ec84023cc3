import type { Transaction } from "sequelize";
import type { DomainEvents, EventEnvelope } from "../../models/events.model";
import * as store from "./store";

/**
 * The durable events that move the analytics figures, applied to the read model inside the
 * consumer's transaction (the event id is recorded with them: once per event), each write
 * idempotent on its own as well (store/read-model.ts).
 */

export interface FeedDeps {
  db: store.Db;
}

export async function enrolled(
  deps: FeedDeps,
  input: DomainEvents["progress.course.enrolled"],
  t: Transaction,
): Promise<void> {
  await store.recordEnrolment(
    deps.db,
    { courseId: input.courseId, userId: input.userId, at: input.enrolledAt },
    t,
  );
}

export async function courseCompleted(
  deps: FeedDeps,
  input: DomainEvents["progress.course.completed"],
  t: Transaction,
): Promise<void> {
  await store.recordCourseCompletion(
    deps.db,
    { courseId: input.courseId, userId: input.userId, at: input.completedAt },
    t,
  );
}

export async function lessonCompleted(
  deps: FeedDeps,
  input: DomainEvents["progress.lesson.completed"],
  t: Transaction,
): Promise<void> {
  await store.recordLessonCompletion(
    deps.db,
    { lessonId: input.lessonId, userId: input.userId },
    t,
  );
}

export async function activityRecorded(
  deps: FeedDeps,
  input: DomainEvents["progress.activity.recorded"],
  t: Transaction,
): Promise<void> {
  await store.recordActivity(deps.db, input, t);
}

/** Graded attempts, several at once: each lesson's discrimination is recomputed once. */
export async function attemptsGraded(
  deps: FeedDeps,
  input: DomainEvents["progress.attempt.graded"][],
  t: Transaction,
): Promise<void> {
  const changed = new Set<string>();
  for (const a of input) {
    const { attemptId, userId, lessonId, score, maxScore, passed, gradedAt } = a;
    const answers = a.answers.map(({ questionId, correct }) => ({ questionId, correct }));
    const first = await store.recordAttempt(
      deps.db,
      { attemptId, userId, lessonId, score, maxScore, passed, answers, gradedAt },
      t,
    );
    if (first) changed.add(lessonId);
  }
  await store.refreshDiscrimination(deps.db, [...changed], t);
}

/** A new account: a registration of its day, and the learner in the cohort of their first day. */
export async function registered(
  deps: FeedDeps,
  input: EventEnvelope<"user.created">,
  t: Transaction,
): Promise<void> {
  const { userId } = input.data;
  await store.recordRegistration(deps.db, { userId, day: input.occurredAt.slice(0, 10) }, t);
  await store.recordCohortMember(deps.db, userId, t);
}

export async function mailOutcome(
  deps: FeedDeps,
  input: DomainEvents["notify.email.outcome"],
  t: Transaction,
): Promise<void> {
  const day = new Date(input.createdAt).toISOString().slice(0, 10);
  await store.recordMailOutcome(
    deps.db,
    { emailId: input.emailId, outcome: input.outcome, day },
    t,
  );
}

export async function erased(deps: FeedDeps, userId: string, t: Transaction): Promise<void> {
  await store.forgetLearner(deps.db, userId, t);
}
