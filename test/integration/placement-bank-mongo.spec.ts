import { ServiceBroker } from "moleculer";
import type { PlacementItem } from "../../models/placement.model";
import { MongoContentRepository } from "../../services/content/mongo-repository";
import { dropMongoDatabase, requireMongo } from "../support/ferretdb";
import { uniqueName } from "../support/isolation";

/**
 * The MongoDB store's placement bank on FerretDB: written by two nodes starting at once, then
 * written again with changed questions (FerretDB v1 never finishes a bulk replace of existing
 * documents, so the store inserts the new ones and sets the changed ones).
 */

const logger = new ServiceBroker({ logger: false }).getLogger("placement-bank-mongo");

const items: PlacementItem[] = ["A1", "B1", "C1"].flatMap(level =>
  Array.from({ length: 3 }, (_, i) => ({
    id: `${level}-${i}`,
    level: level as PlacementItem["level"],
    skills: ["to-be"],
    type: "cloze" as const,
    prompt: `Complete: "I {{1}} here." (${level} ${i})`,
    answer: [["am", "'m"]],
  })),
);

let uri: string;
let repos: MongoContentRepository[];

beforeAll(async () => {
  uri = await requireMongo(uniqueName("lm_bank").toLowerCase());
  repos = [new MongoContentRepository(uri, logger), new MongoContentRepository(uri, logger)];
  for (const repo of repos) await repo.start();
});

afterAll(async () => {
  for (const repo of repos ?? []) await repo.stop();
  if (uri) await dropMongoDatabase(uri);
});

test("when two nodes write the bank at once, then it holds each question once, nested answer keys intact", async () => {
  await Promise.all(repos.map(repo => repo.savePlacementItems(items)));
  const bank = await repos[0].placementItems();
  expect(bank.map(item => item.id)).toEqual(items.map(item => item.id).sort());
  expect(bank.find(item => item.id === "B1-0")).toEqual(items.find(item => item.id === "B1-0"));
});

test("when the bank is written again with changed and new questions, then it holds the new version of each", async () => {
  const changed = items.map(item => (item.level === "C1" ? { ...item, prompt: "Changed" } : item));
  const added = { ...items[0], id: "A1-new" };
  await repos[1].savePlacementItems([...changed, added]);
  const bank = await repos[0].placementItems();
  expect(bank).toHaveLength(items.length + 1);
  expect(bank.filter(item => item.prompt === "Changed").map(item => item.id)).toEqual([
    "C1-0",
    "C1-1",
    "C1-2",
  ]);
  expect(bank.find(item => item.id === "A1-new")).toEqual(added);
});
