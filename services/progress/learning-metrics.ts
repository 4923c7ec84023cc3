import type { ServiceBroker } from "moleculer";
import type { DomainEventType, EventEnvelope } from "../../models/events.model";

/**
 * The analytics figures as Prometheus business metrics (dots become underscores): counters
 * moved by the read model's consumers on the node that handled the event (sum them over
 * nodes), and gauges of active learners set from the read model on every progress node
 * (take their max).
 */
export const LEARNING_METRICS = {
  enrolments: "lingomesh.learning.enrolments.total",
  lessonCompletions: "lingomesh.learning.lesson_completions.total",
  courseCompletions: "lingomesh.learning.course_completions.total",
  attempts: "lingomesh.learning.attempts.total",
  answers: "lingomesh.learning.answers.total",
  answersCorrect: "lingomesh.learning.answers_correct.total",
  registrations: "lingomesh.learning.registrations.total",
  mailOutcomes: "lingomesh.mail.outcomes.total",
  activeLearners: "lingomesh.learning.active_learners",
} as const;

const COUNTERS: Array<[string, string, string[]]> = [
  [LEARNING_METRICS.enrolments, "Course enrolments", []],
  [LEARNING_METRICS.lessonCompletions, "First completions of a lesson", []],
  [LEARNING_METRICS.courseCompletions, "Completed courses", []],
  [LEARNING_METRICS.attempts, "Graded attempts, by whether they passed", ["passed"]],
  [LEARNING_METRICS.answers, "Answers in graded attempts", []],
  [LEARNING_METRICS.answersCorrect, "Fully correct answers in graded attempts", []],
  [LEARNING_METRICS.registrations, "Accounts created", []],
  [
    LEARNING_METRICS.mailOutcomes,
    "Mails reaching an outcome (sent, opened, clicked, failed)",
    ["outcome"],
  ],
];

export function registerLearningMetrics(broker: ServiceBroker): void {
  if (!broker.isMetricsEnabled()) return;
  const metrics = broker.metrics;
  for (const [name, description, labelNames] of COUNTERS)
    if (!metrics.getMetric(name))
      metrics.register({ name, type: "counter", labelNames, description, rate: false });
  if (!metrics.getMetric(LEARNING_METRICS.activeLearners))
    metrics.register({
      name: LEARNING_METRICS.activeLearners,
      type: "gauge",
      labelNames: ["window"],
      description: "Learners with activity today (1d), in the last 7 days (7d) or 30 days (30d)",
    });
}

/** Moves the counters an event handled by the read model stands for. */
export function countLearningEvent(broker: ServiceBroker, envelope: EventEnvelope): void {
  if (!broker.isMetricsEnabled()) return;
  const m = broker.metrics;
  const type: DomainEventType = envelope.type;
  const data = envelope.data;
  if (type === "progress.course.enrolled") m.increment(LEARNING_METRICS.enrolments);
  if (type === "progress.lesson.completed") m.increment(LEARNING_METRICS.lessonCompletions);
  if (type === "progress.course.completed") m.increment(LEARNING_METRICS.courseCompletions);
  if (type === "user.created") m.increment(LEARNING_METRICS.registrations);
  if ("outcome" in data) m.increment(LEARNING_METRICS.mailOutcomes, { outcome: data.outcome });
  if ("attemptId" in data) {
    m.increment(LEARNING_METRICS.attempts, { passed: String(data.passed) });
    m.increment(LEARNING_METRICS.answers, {}, data.answers.length);
    m.increment(
      LEARNING_METRICS.answersCorrect,
      {},
      data.answers.filter(answer => answer.correct).length,
    );
  }
}

export function setActiveLearners(
  broker: ServiceBroker,
  active: { dau: number; wau: number; mau: number },
): void {
  if (!broker.isMetricsEnabled()) return;
  broker.metrics.set(LEARNING_METRICS.activeLearners, active.dau, { window: "1d" });
  broker.metrics.set(LEARNING_METRICS.activeLearners, active.wau, { window: "7d" });
  broker.metrics.set(LEARNING_METRICS.activeLearners, active.mau, { window: "30d" });
}
