import fs from "node:fs";
import path from "node:path";
import {
  capacityTable,
  formatCapacityTable,
  TRAFFIC_MODEL,
  type CapacityRow,
} from "./capacity-model";

/** `npm run capacity [results.json]`: the capacity table of docs/capacity.md from a bench run. */
function main(): void {
  const file = path.resolve(process.argv[2] ?? path.join(__dirname, "results", "latest.json"));
  const results = JSON.parse(fs.readFileSync(file, "utf8")) as {
    date: string;
    cpuMsPerRequest: Record<string, Record<string, number>>;
    events?: { perSecond?: number };
  };
  const rows: CapacityRow[] = capacityTable(results.cpuMsPerRequest, TRAFFIC_MODEL);
  process.stdout.write(
    `Capacity from ${path.relative(process.cwd(), file)} (bench of ${results.date})\n`,
  );
  process.stdout.write(`Traffic model: ${JSON.stringify(TRAFFIC_MODEL)}\n\n`);
  process.stdout.write(`${formatCapacityTable(rows)}\n`);
  const measuredEvents = results.events?.perSecond;
  if (typeof measuredEvents === "number") {
    process.stdout.write(
      `\nDurable events: the bench drained ${measuredEvents}/s through one RabbitMQ node; ` +
        rows
          .map(
            row =>
              `${row.dailyLearners.toLocaleString("en-US")} learners need ${Math.round(row.peakEventsPerSecond)}/s at peak (${Math.round((100 * row.peakEventsPerSecond) / measuredEvents)} %)`,
          )
          .join(", ") +
        ".\n",
    );
  }
}

main();
