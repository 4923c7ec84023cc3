import fs from "node:fs";

/**
 * CPU that other work on the machine took during a slice. The load average and /proc/stat
 * say the machine was busy, not by whom: the bench's own nodes and the servers it drives are
 * busy by design. Summing the CPU time of every process that is neither in the bench's
 * process tree nor one of the servers gives what a neighbour (another test run, a build)
 * took; a slice during which that passes a bound is measured again (bench/run.ts).
 */

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The servers `npm run bench` loads: their CPU is part of every figure, not a neighbour's. */
export const SERVER_COMMANDS: ReadonlySet<string> = new Set([
  "postgres",
  "redis-server",
  "beam.smp",
  "erl_child_setup",
  "epmd",
  "inet_gethost",
  "nats-server",
]);

export interface ProcessTimes {
  pid: number;
  ppid: number;
  comm: string;
  /** User + system time in ticks (threads included). */
  cpuTicks: number;
}

export function parsePidStat(text: string): ProcessTimes {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open)
    throw new Error(`unreadable /proc/<pid>/stat: ${text.slice(0, 80)}`);
  // After the command name: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime …
  const fields = text.slice(close + 2).split(" ");
  return {
    pid: Number(text.slice(0, open).trim()),
    ppid: Number(fields[1]),
    comm: text.slice(open + 1, close),
    cpuTicks: Number(fields[11]) + Number(fields[12]),
  };
}

export type ProcessTable = Map<number, ProcessTimes>;

export function readProcesses(): ProcessTable {
  const table: ProcessTable = new Map();
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const times = parsePidStat(fs.readFileSync(`/proc/${entry}/stat`, "utf8"));
      table.set(times.pid, times);
    } catch {
      // The process ended between the listing and the read: it has nothing left to count.
    }
  }
  return table;
}

/** `root` and every process below it. */
export function treeOf(table: ProcessTable, root: number): Set<number> {
  const tree = new Set([root]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const p of table.values()) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) {
        tree.add(p.pid);
        grew = true;
      }
    }
  }
  return tree;
}

export interface ForeignUse {
  /** Cores used on average by processes outside the bench and its servers. */
  cores: number;
  /** The biggest of them, for the log. */
  top: Array<{ comm: string; cores: number }>;
}

/**
 * The CPU processes outside `root`'s tree and the servers used between two reads of the
 * process table, as cores over `seconds`. A process born in between counts whole; one that
 * ended in between is lost (it left no reading), so the figure can only err low.
 */
export function foreignUse(
  before: ProcessTable,
  after: ProcessTable,
  root: number,
  seconds: number,
): ForeignUse {
  const own = treeOf(after, root);
  const used: Array<{ comm: string; cores: number }> = [];
  for (const p of after.values()) {
    // Kernel threads (children of kthreadd, pid 2) mostly carry the bench's own loopback traffic.
    if (own.has(p.pid) || SERVER_COMMANDS.has(p.comm) || p.pid === 2 || p.ppid === 2) continue;
    const earlier = before.get(p.pid);
    const ticks = p.cpuTicks - (earlier && earlier.comm === p.comm ? earlier.cpuTicks : 0);
    if (ticks > 0) used.push({ comm: p.comm, cores: ticks / TICKS_PER_SECOND / seconds });
  }
  used.sort((a, b) => b.cores - a.cores);
  const cores = used.reduce((sum, u) => sum + u.cores, 0);
  return { cores: Number(cores.toFixed(3)), top: used.slice(0, 3) };
}
