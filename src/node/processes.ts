import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * Telling a live process from one that is gone, for the files a process leaves behind while
 * it writes (a lock, a temporary file): whoever finds one of a dead process may remove it.
 */

/** A process as the files it leaves name it: pid, machine, and when it started (where known). */
export interface ProcessId {
  readonly pid: number;
  readonly host: string;
  /** Its start time as the kernel counts it (Linux: clock ticks since boot), or null where unknown. */
  readonly start: string | null;
}

/** This process. */
export function thisProcess(): ProcessId {
  return { pid: process.pid, host: hostname(), start: processStart(process.pid) };
}

/** Whether a process `pid` exists on this machine (another user's counts: signalling it is only refused). */
export function processAlive(pid: number): boolean {
  // 0 and negative numbers name process groups, not one process.
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * When process `pid` started (field 22 of /proc/PID/stat, clock ticks since boot), or null
 * off Linux or when there is no such process. With the pid it names one process, so a pid
 * the system has since given to another process is told apart.
 */
export function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from its closing one.
    // What follows starts at field 3, so field 22 is the 20th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Whether the process `id` names has ended: it ran on this machine and its pid is free now,
 * or held by a process that started at another time. A process on another machine (a
 * shared file system) cannot be checked: it counts as running.
 */
export function processGone(id: ProcessId): boolean {
  if (id.host !== hostname()) return false;
  if (!processAlive(id.pid)) return true;
  const start = id.start === null ? null : processStart(id.pid);
  return start !== null && start !== id.start;
}
