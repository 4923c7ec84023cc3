import type { BankLevel } from "../../models/placement.model";
import { seedId } from "../../services/content/seeder";
import { PLACEMENT_BANK, type SeedPlacementItem } from "../../seeds/placement-bank";

/**
 * The placement bank's answer keys from the seed file (never from the server), by the id
 * content gives each question, and a learner who knows every level up to one and none above.
 */

export const PLACEMENT_KEYS: ReadonlyMap<string, SeedPlacementItem> = new Map(
  PLACEMENT_BANK.map(item => [seedId(`placement/${item.key}`), item]),
);

/** The answer of a learner who knows everything up to `upTo` and nothing above it. */
export function answerAs(upTo: BankLevel, question: { id: string }): unknown {
  const item = PLACEMENT_KEYS.get(question.id);
  if (!item) throw new Error(`question ${question.id} is not in the seed bank`);
  if (item.level <= upTo) return item.answer;
  if (item.type === "single") return (item.options as string[]).find(o => o !== item.answer);
  if (item.type === "cloze") return (item.answer as unknown[]).map(() => "xyz");
  return "xyz";
}
