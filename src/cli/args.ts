/** A small declarative flag parser: every command declares its flags once, help text included. */

export type FlagKind = 'string' | 'number' | 'integer' | 'boolean' | 'bytes';

export interface FlagSpec {
  name: string;
  kind: FlagKind;
  help: string;
  default?: string | number | boolean;
  placeholder?: string;
}

export interface CommandSpec {
  name: string;
  summary: string;
  usage: string;
  flags: FlagSpec[];
  /** Names of positional arguments, for help and arity checks; a trailing '...' allows more. */
  positionals?: string[];
  details?: string;
}

export type FlagValues = Record<string, string | number | boolean | undefined>;

export interface ParsedArgs {
  flags: FlagValues;
  /** Flags given on the command line (the others hold their defaults). */
  given: Set<string>;
  positionals: string[];
  help: boolean;
}

export class UsageError extends Error {
  constructor(message: string, readonly command: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 1024 ** 2, mb: 1e6, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1e9, gib: 1024 ** 3,
};

/** Parses sizes such as 4GiB, 512MiB, 1e9 or 300MB into bytes. */
export function parseBytes(text: string): number {
  const match = /^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = match ? BYTE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new Error(`'${text}' is not a size (expected e.g. 4GiB, 512MiB, 300MB or a number of bytes)`);
  }
  return Math.floor(Number(match[1]) * unit);
}

function convert(spec: FlagSpec, raw: string, command: string): string | number {
  switch (spec.kind) {
    case 'string':
      return raw;
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`--${spec.name} expects a number, got '${raw}'`, command);
      return value;
    }
    case 'integer': {
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new UsageError(`--${spec.name} expects an integer, got '${raw}'`, command);
      return value;
    }
    case 'bytes': {
      let bytes: number;
      try {
        bytes = parseBytes(raw);
      } catch (error) {
        throw new UsageError(`--${spec.name}: ${(error as Error).message}`, command);
      }
      if (bytes < 1) throw new UsageError(`--${spec.name} must be at least 1 byte, got '${raw}'`, command);
      return bytes;
    }
    case 'boolean':
      throw new UsageError(`--${spec.name} takes no value`, command);
  }
}

export function parseArgs(spec: CommandSpec, argv: string[]): ParsedArgs {
  const byName = new Map(spec.flags.map((flag) => [flag.name, flag]));
  const flags: FlagValues = {};
  for (const flag of spec.flags) {
    flags[flag.name] = flag.kind === 'bytes' && typeof flag.default === 'string' ? parseBytes(flag.default) : flag.default;
  }
  const given = new Set<string>();
  const positionals: string[] = [];
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const flag = byName.get(name);
    if (!flag) throw new UsageError(`unknown option --${name}`, spec.name);
    given.add(name);
    if (flag.kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`, spec.name);
      flags[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value (${flag.placeholder ?? flag.kind})`, spec.name);
      // `--out --overwrite` is a forgotten value, not a directory named --overwrite.
      if (argv[i + 1].startsWith('--')) {
        throw new UsageError(`--${name} needs a value (${flag.placeholder ?? flag.kind}) but is followed by ${argv[i + 1]}; write --${name}=VALUE for a value that starts with --`, spec.name);
      }
      raw = argv[++i];
    }
    flags[name] = convert(flag, raw, spec.name);
  }
  if (!help) {
    const names = spec.positionals ?? [];
    const variadic = names.length > 0 && names[names.length - 1].endsWith('...');
    const required = names.filter((n) => !n.startsWith('[')).length;
    if (positionals.length < required) {
      throw new UsageError(`missing argument ${names[positionals.length]}`, spec.name);
    }
    if (!variadic && positionals.length > names.length) {
      throw new UsageError(`unexpected argument '${positionals[names.length]}'`, spec.name);
    }
  }
  return { flags, given, positionals, help };
}

export function formatHelp(spec: CommandSpec): string {
  const lines = [`${spec.summary}`, '', `usage: ${spec.usage}`];
  if (spec.details) lines.push('', spec.details);
  const labels = spec.flags.map((flag) => `--${flag.name}${flag.kind === 'boolean' ? '' : ` ${flag.placeholder ?? flag.kind.toUpperCase()}`}`);
  const width = Math.max('--help'.length, ...labels.map((label) => label.length)) + 2;
  lines.push('', 'options:');
  spec.flags.forEach((flag, i) => {
    const fallback = flag.default === undefined || flag.default === false ? '' : ` (default: ${flag.default})`;
    lines.push(`  ${labels[i].padEnd(width)}${flag.help}${fallback}`);
  });
  lines.push(`  ${'--help'.padEnd(width)}show this help`);
  return lines.join('\n');
}

/** Reads a flag that must be present, with a usage error naming it otherwise. */
export function requireFlag<T extends string | number>(args: ParsedArgs, name: string, command: string): T {
  const value = args.flags[name];
  if (value === undefined) throw new UsageError(`--${name} is required`, command);
  return value as T;
}
