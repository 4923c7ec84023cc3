import type { Logger } from "moleculer";
import type { Transaction } from "sequelize";
import type { Caller, ProgressDeps } from "./deps";

/**
 * The learners a transaction changes, told once it has committed — one broadcast each,
 * however many of their events or summary updates it wrote — and before the change's answer
 * leaves: Sequelize awaits after-commit hooks inside the commit. A broadcast that fails is
 * logged, not thrown (the change is committed); the gateways' copies are short-lived.
 */
export function learnerChanges(
  tell: (userId: string, caller?: Caller) => Promise<void>,
  logger: Pick<Logger, "warn">,
): ProgressDeps["learnersChanged"] {
  const pending = new WeakMap<Transaction, Set<string>>();
  return (t, userIds, caller) => {
    let users = pending.get(t);
    if (!users) {
      const told = new Set<string>();
      users = told;
      pending.set(t, told);
      t.afterCommit(async () => {
        await Promise.all(
          [...told].map(userId =>
            tell(userId, caller).catch((err: Error) =>
              logger.warn(`gateways not told of ${userId}'s change: ${err.message}`),
            ),
          ),
        );
      });
    }
    for (const userId of userIds) users.add(userId);
  };
}
