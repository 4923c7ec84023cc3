import type { Cluster } from "./cluster";
import type { SmtpSink } from "./smtp-sink";

/** One measured figure of a drill, with the target it is held to (if any). */
export interface Check {
  figure: string;
  value: number | string | boolean;
  unit?: string;
  target?: string;
  pass?: boolean;
}

export interface DrillResult {
  id: number;
  name: string;
  passed: boolean;
  checks: Check[];
  /** How the fault was produced and anything a reader must know to read the figures. */
  notes: string[];
  details: Record<string, unknown>;
  durationSeconds: number;
  error?: string;
}

export interface DrillContext {
  cluster: Cluster;
  smtp: SmtpSink;
  log(line: string): void;
}

export interface Drill {
  id: number;
  name: string;
  run(ctx: DrillContext): Promise<Omit<DrillResult, "id" | "name" | "passed" | "durationSeconds">>;
}

export function check(
  figure: string,
  value: number | string | boolean,
  target?: string,
  pass?: boolean,
  unit?: string,
): Check {
  return { figure, value, target, pass, unit };
}
