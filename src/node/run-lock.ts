import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileError, type FileOps } from './file-ops.js';

/** Who holds a run directory: written into DIR/train.lock. */
export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
  /** The kernel's start time of the process (Linux), so that a reused pid is not taken for the holder. */
  processStart?: string;
}

export const LOCK_FILE = 'train.lock';

function describe(holder: LockHolder): string {
  return `process ${holder.pid} on ${holder.host} (${holder.command}, started ${holder.started})`;
}

/** State and start time from /proc/PID/stat (fields 3 and 22), or null where there is no /proc. */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: fields[19] };
  } catch {
    return null;
  }
}

function holderRuns(holder: LockHolder): boolean {
  try {
    process.kill(holder.pid, 0);
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = procStat(holder.pid);
  if (!stat) return true;
  // A zombie has exited; another start time is another process under a reused pid.
  return stat.state !== 'Z' && (holder.processStart === undefined || stat.start === holder.processStart);
}

function readHolder(path: string): LockHolder | null {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isSafeInteger(holder.pid) && typeof holder.host === 'string' ? holder : null;
  } catch {
    return null;
  }
}

/**
 * An exclusive lock on a run directory: a file created with O_EXCL naming its holder. A lock whose
 * holder ran on this host and no longer runs (killed, or the machine restarted: its pid is gone,
 * a zombie, or now another process's) is stale and is taken over with a note; a live holder, or one on another host (whose liveness cannot be known),
 * is an error naming it.
 */
export class RunLock {
  private held = true;

  private constructor(readonly path: string, readonly holder: LockHolder) {}

  static acquire(ops: FileOps, dir: string, command: string, note: (message: string) => void): RunLock {
    const path = join(dir, LOCK_FILE);
    const holder: LockHolder = { pid: process.pid, host: hostname(), started: new Date().toISOString(), command, processStart: procStat(process.pid)?.start };
    const bytes = new TextEncoder().encode(`${JSON.stringify(holder)}\n`);
    for (let attempt = 0; attempt < 2; attempt++) {
      let fd: number;
      try {
        fd = ops.open(path, 'wx');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        const other = readHolder(path);
        // A holder writes its name right after creating the file: an unreadable lock is only stale when old.
        if (!other && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 10_000) {
          throw new Error(`${dir} is being locked by another process this moment (${path}); try again`);
        }
        if (other && (other.host !== holder.host || holderRuns(other))) {
          throw new Error(`${dir} is in use by ${describe(other)}; wait for it to finish or use another --out (if it is gone, delete ${path})`);
        }
        note(`note: ${path} was left by ${other ? describe(other) : 'an unreadable lock'}, which no longer runs; taking it over`);
        ops.remove(path);
        continue;
      }
      try {
        ops.write(fd, bytes, path);
        ops.fsync(fd, path);
      } finally {
        ops.close(fd, path);
      }
      return new RunLock(path, holder);
    }
    throw new Error(`${path}: another process took the lock at the same moment; try again`);
  }

  /** Removes the lock file (synchronously, so a signal handler may call it just before exiting). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      if (readHolder(this.path)?.pid === process.pid) unlinkSync(this.path);
    } catch (error) {
      throw fileError(this.path, 'remove the lock', error);
    }
  }
}
