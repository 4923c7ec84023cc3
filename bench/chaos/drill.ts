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

type DrillOutcome = Omit<DrillResult, "id" | "name" | "passed" | "durationSeconds">;

/** What every drill gets: the SMTP sink the notify nodes send to, and the run's log. */
export interface DrillBasics {
  smtp: SmtpSink;
  log(line: string): void;
  /** Where node logs go (a drill with a cluster of its own writes into a folder of its own). */
  logDir: string;
}

export interface DrillContext extends DrillBasics {
  cluster: Cluster;
}

/** A drill on the harness's shared six-node cluster. */
export interface Drill {
  id: number;
  name: string;
  /** The most it may take (the harness's default otherwise). */
  limitMs?: number;
  ownCluster?: false;
  run(ctx: DrillContext): Promise<DrillOutcome>;
}

/**
 * A drill that builds a cluster of its own (other infrastructure, other topology), starts it
 * itself and stops it whatever happens; the harness starts no shared cluster for it.
 */
export interface OwnClusterDrill {
  id: number;
  name: string;
  /** The most it may take (the harness's default otherwise). */
  limitMs?: number;
  ownCluster: true;
  run(ctx: DrillBasics): Promise<DrillOutcome>;
}

export type AnyDrill = Drill | OwnClusterDrill;

export function check(
  figure: string,
  value: number | string | boolean,
  target?: string,
  pass?: boolean,
  unit?: string,
): Check {
  return { figure, value, target, pass, unit };
}
