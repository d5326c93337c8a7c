import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { encodeModelFiles } from '../train/model-file-bytes.js';
import { MODEL_FILES } from '../model/model-folder.js';
import { assertFiniteCheckpoint, type RunOutput, type SavedModel } from '../train/run-output.js';
import { parseTrainerState, type TrainerState } from '../train/trainer-state.js';
import { nodeFileOps, writeDurably, type FileOps } from './file-ops.js';
import { RunLock } from './run-lock.js';

/**
 * A training run's output directory:
 *
 *   train.lock                      who writes here (pid, host, start); see RunLock
 *   metrics.jsonl                   one JSON record per line, appended whole or not at all
 *   checkpoints/step-00000012/      one complete model directory per checkpoint, never changed
 *   latest -> checkpoints/step-...  the current checkpoint: replacing this link is the commit
 *   checkpoint                      the same pointer for TensorFlow (tf.train.latest_checkpoint)
 *   bert_config.json, vocab.txt, bert_model.ckpt.*, trainer-state.json -> latest/...
 *
 * A checkpoint is written into checkpoints/.staging-NAME-PID, every file and the folder flushed
 * to disk, renamed to checkpoints/NAME, and only then does `latest` move to it (a new link
 * renamed over the old one: one atomic step) and the directory is flushed. A reader that
 * resolves `latest` once (stableModelDir, tf.train.latest_checkpoint) sees one whole checkpoint,
 * never an index of one with the data of another; the folder it reads stays until two newer
 * checkpoints exist. Readers change nothing: leftovers of a dead writer are removed only by the
 * next holder of the lock.
 */
export const RUN_FILES = { metrics: 'metrics.jsonl', latest: 'latest', checkpoints: 'checkpoints', tensorflowPointer: 'checkpoint' } as const;

const LINKED_FILES = [MODEL_FILES.config, MODEL_FILES.vocab, `${MODEL_FILES.checkpoint}.index`, `${MODEL_FILES.checkpoint}.data-00000-of-00001`, MODEL_FILES.trainerState];
const STAGING_PREFIX = '.staging-';
const TEMPORARY_MARK = '.tmp-';

/** The folder of a run's current checkpoint, resolved once so it stays put while read; `dir` itself for a plain model directory. */
export function stableModelDir(dir: string): string {
  const latest = join(dir, RUN_FILES.latest);
  return existsSync(latest) ? realpathSync(latest) : dir;
}

/** The trainer state saved in a model folder (validated), or null when it has none. */
export function readTrainerState(folder: string): TrainerState | null {
  const path = join(folder, MODEL_FILES.trainerState);
  if (!existsSync(path)) return null;
  return parseTrainerState(readFileSync(path), path);
}

/** Whether `dir` holds a run or a model that a new run would replace. */
export function holdsRun(dir: string): boolean {
  return [RUN_FILES.latest, RUN_FILES.metrics, `${MODEL_FILES.checkpoint}.index`].some((name) => lstatSync(join(dir, name), { throwIfNoEntry: false }));
}

export interface RunDirectoryOptions {
  /** 'new' refuses a directory holding a run; 'replace' clears it (clearPreviousRun); 'resume' continues it. */
  mode: 'new' | 'replace' | 'resume';
  command: string;
  note(message: string): void;
  /** File operations; tests inject failures here. */
  ops?: FileOps;
}

export class RunDirectory implements RunOutput {
  private metricsFd: number | null = null;
  private wrote = false;

  private constructor(
    readonly dir: string,
    private readonly ops: FileOps,
    private readonly lock: RunLock,
    private readonly created: boolean,
    private readonly note: (message: string) => void,
  ) {}

  /** Locks `dir` (creating it for a new run) before anything is loaded, so an unusable --out fails at once. */
  static open(dir: string, options: RunDirectoryOptions): RunDirectory {
    const ops = options.ops ?? nodeFileOps;
    const stat = statSync(dir, { throwIfNoEntry: false });
    if (stat && !stat.isDirectory()) throw new Error(`${dir} is a file, not a directory`);
    if (!stat && options.mode === 'resume') throw new Error(`${dir} does not exist`);
    if (!stat) ops.mkdir(dir);
    let lock: RunLock;
    try {
      lock = RunLock.acquire(ops, dir, options.command, options.note);
    } catch (error) {
      if (!stat) ops.remove(dir);
      throw error;
    }
    const run = new RunDirectory(dir, ops, lock, !stat, options.note);
    try {
      if (options.mode === 'new' && holdsRun(dir)) {
        throw new Error(`${dir} already holds a model or metrics; use --resume ${dir} to continue it, another --out, or --overwrite`);
      }
      run.removeLeftovers();
    } catch (error) {
      run.close(false);
      throw error;
    }
    return run;
  }

  get metricsPath(): string {
    return join(this.dir, RUN_FILES.metrics);
  }

  hasCheckpoint(): boolean {
    return lstatSync(join(this.dir, RUN_FILES.latest), { throwIfNoEntry: false }) !== undefined;
  }

  /** The state of the current checkpoint and the folder it is in (resolved once). */
  currentCheckpoint(): { folder: string; state: TrainerState } {
    const folder = stableModelDir(this.dir);
    const state = readTrainerState(folder);
    if (!state) throw new Error(`${this.dir} has no ${MODEL_FILES.trainerState}: not a run written by train --out, or it never reached a checkpoint`);
    return { folder, state };
  }

  /**
   * Makes metrics.jsonl match the checkpoint being resumed: a torn last line (a write cut short)
   * is dropped with a note, and records after the checkpoint (steps past its step, evaluations of
   * epochs it did not complete) are removed, so the resumed run does not list them twice.
   */
  trimMetricsTo(state: TrainerState): void {
    const path = this.metricsPath;
    if (!existsSync(path)) return;
    const lines = readFileSync(path, 'utf8').split('\n');
    const tail = lines.pop() ?? '';
    if (tail !== '') this.note(`note: ${path}: dropped a torn last line (${tail.length} characters) left by an interrupted write`);
    const kept = lines.filter((line, index) => {
      if (line.trim() === '') return false;
      let record: { step?: unknown; epoch?: unknown };
      try {
        record = JSON.parse(line) as typeof record;
      } catch (error) {
        throw new Error(`${path}: line ${index + 1} is not valid JSON (${(error as Error).message}); remove it to resume`);
      }
      if (typeof record.step === 'number') return record.step <= state.step;
      return typeof record.epoch !== 'number' || record.epoch <= state.epoch;
    });
    if (tail === '' && kept.length === lines.length) return;
    this.replaceFile(RUN_FILES.metrics, kept.map((line) => `${line}\n`).join(''));
  }

  /** Removes the previous run (--overwrite): its log, its checkpoints and the links to them. */
  clearPreviousRun(): void {
    for (const name of [RUN_FILES.metrics, RUN_FILES.latest, RUN_FILES.tensorflowPointer, ...LINKED_FILES, RUN_FILES.checkpoints]) {
      this.ops.remove(join(this.dir, name));
    }
    this.ops.fsyncDirectory(this.dir);
  }

  appendMetrics(records: readonly object[]): void {
    const path = this.metricsPath;
    this.metricsFd ??= this.ops.open(path, 'a');
    const bytes = new TextEncoder().encode(records.map((record) => `${JSON.stringify(record)}\n`).join(''));
    const before = this.ops.size(this.metricsFd, path);
    try {
      this.ops.write(this.metricsFd, bytes, path);
    } catch (error) {
      // A write cut short (a full disk) is taken back, so the log never ends in half a record.
      try {
        this.ops.truncate(this.metricsFd, before, path);
      } catch {
        // The torn line stays; resuming drops it with a note.
      }
      throw error;
    }
    this.wrote = true;
  }

  writeCheckpoint(saved: SavedModel): string {
    assertFiniteCheckpoint(saved);
    // The log reaches the disk before the checkpoint that covers it.
    if (this.metricsFd !== null) this.ops.fsync(this.metricsFd, this.metricsPath);
    const checkpoints = join(this.dir, RUN_FILES.checkpoints);
    this.ops.mkdir(checkpoints);
    const name = this.unusedName(checkpoints, `step-${String(saved.trainerState?.step ?? 0).padStart(8, '0')}`);
    const staging = join(checkpoints, `${STAGING_PREFIX}${name}-${process.pid}`);
    this.ops.mkdir(staging);
    try {
      for (const file of encodeModelFiles(saved)) writeDurably(this.ops, join(staging, file.name), file.chunks);
      this.ops.fsyncDirectory(staging);
      this.ops.rename(staging, join(checkpoints, name));
    } catch (error) {
      try {
        this.ops.remove(staging);
      } catch {
        // The next holder of the lock removes it.
      }
      throw error;
    }
    this.ops.fsyncDirectory(checkpoints);
    const previous = this.currentName();
    this.replaceLink(RUN_FILES.latest, `${RUN_FILES.checkpoints}/${name}`);
    this.wrote = true;
    const prefix = `${RUN_FILES.checkpoints}/${name}/${MODEL_FILES.checkpoint}`;
    this.replaceFile(RUN_FILES.tensorflowPointer, `model_checkpoint_path: "${prefix}"\nall_model_checkpoint_paths: "${prefix}"\n`);
    for (const file of LINKED_FILES) {
      const path = join(this.dir, file);
      const link = `${RUN_FILES.latest}/${file}`;
      if (!(lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() && readlinkSync(path) === link)) this.replaceLink(file, link);
    }
    this.ops.fsyncDirectory(this.dir);
    for (const entry of readdirSync(checkpoints)) {
      if (entry.startsWith('step-') && entry !== name && entry !== previous) this.ops.remove(join(checkpoints, entry));
    }
    return join(this.dir, RUN_FILES.checkpoints, name);
  }

  /**
   * Closes the log and releases the lock. A run that failed before writing anything removes the
   * directory it created, so a mistake costs no clean-up.
   */
  close(succeeded: boolean): void {
    if (this.metricsFd !== null) {
      const fd = this.metricsFd;
      this.metricsFd = null;
      this.ops.close(fd, this.metricsPath);
    }
    this.lock.release();
    if (!succeeded && this.created && !this.wrote) this.ops.remove(this.dir);
  }

  /** Releases the lock at once (a second signal); whatever is half-written is cleaned up by the next run. */
  abandon(): void {
    this.lock.release();
  }

  private currentName(): string | null {
    const latest = join(this.dir, RUN_FILES.latest);
    if (!lstatSync(latest, { throwIfNoEntry: false })?.isSymbolicLink()) return null;
    return readlinkSync(latest).split('/').pop() ?? null;
  }

  private unusedName(folder: string, base: string): string {
    let name = base;
    for (let n = 2; existsSync(join(folder, name)); n++) name = `${base}-${n}`;
    return name;
  }

  /** Points `name` at `target` in one rename, whatever `name` was before. */
  private replaceLink(name: string, target: string): void {
    const temporary = join(this.dir, `.${name}${TEMPORARY_MARK}${process.pid}`);
    this.ops.remove(temporary);
    this.ops.symlink(target, temporary);
    this.ops.rename(temporary, join(this.dir, name));
  }

  /** Replaces a small file whole: written and flushed under a temporary name, then renamed. */
  private replaceFile(name: string, text: string): void {
    const temporary = join(this.dir, `.${name}${TEMPORARY_MARK}${process.pid}`);
    writeDurably(this.ops, temporary, [new TextEncoder().encode(text)]);
    this.ops.rename(temporary, join(this.dir, name));
    this.ops.fsyncDirectory(this.dir);
  }

  /** Staging folders and temporary names of writers that died; only the lock holder may remove them. */
  private removeLeftovers(): void {
    for (const entry of readdirSync(this.dir)) {
      if (entry.startsWith('.') && entry.includes(TEMPORARY_MARK)) this.ops.remove(join(this.dir, entry));
    }
    const checkpoints = join(this.dir, RUN_FILES.checkpoints);
    if (!existsSync(checkpoints)) return;
    for (const entry of readdirSync(checkpoints)) {
      if (entry.startsWith(STAGING_PREFIX)) this.ops.remove(join(checkpoints, entry));
    }
  }
}
