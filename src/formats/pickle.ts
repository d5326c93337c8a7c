/**
 * A restricted reader of the pickles in PyTorch checkpoints (`data.pkl`). It interprets the
 * pickle opcodes a state dict of tensors uses and builds plain values; it never imports or calls
 * anything. The only globals it accepts are the dict type, PyTorch's tensor and parameter
 * rebuild functions and the storage classes, each replaced by a description of what the call
 * would have built. Any other global (`os.system`, `builtins.eval`, ...) or opcode is refused.
 */
import { FormatError } from './errors.js';

export class PyTuple {
  constructor(readonly items: PickleValue[]) {}
}

export class PyList {
  constructor(readonly items: PickleValue[]) {}
}

export class PyDict {
  readonly entries = new Map<string | number, PickleValue>();
}

/** A reference to a module attribute that the allow-list accepted; never resolved. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}

  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage named by a persistent id: ('storage', torch.FloatStorage, key, location, numel). */
export class StorageRef {
  constructor(readonly storageType: string, readonly key: string, readonly numel: number) {}
}

/** What `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` would build. */
export class TensorRef {
  constructor(readonly storage: StorageRef, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}
}

export type PickleValue = null | boolean | number | string | PyTuple | PyList | PyDict | PyGlobal | StorageRef | TensorRef;

/** Storage classes torch.save names in persistent ids, by the element type they hold. */
export const STORAGE_TYPES = [
  'FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'ShortStorage', 'CharStorage', 'ByteStorage', 'BoolStorage',
] as const;

const REBUILD_TENSOR = 'torch._utils._rebuild_tensor_v2';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';
const ORDERED_DICT = 'collections.OrderedDict';
const ALLOWED_GLOBALS = new Set([ORDERED_DICT, REBUILD_TENSOR, REBUILD_PARAMETER, ...STORAGE_TYPES.map((type) => `torch.${type}`)]);

export const RESAVE_HINT = 'this reader executes nothing and accepts only a state dict of tensors; re-save the weights with a current torch (torch.save(model.state_dict(), path)) or as model.safetensors';

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

const OPCODE_NAMES: Record<number, string> = {
  0x63: 'GLOBAL', 0x93: 'STACK_GLOBAL', 0x52: 'REDUCE', 0x62: 'BUILD', 0x69: 'INST', 0x6f: 'OBJ', 0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX',
  0x50: 'PERSID', 0x51: 'BINPERSID', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4',
};

class Interpreter {
  private readonly view: DataView;
  private readonly stack: StackItem[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private at = 0;

  constructor(private readonly bytes: Uint8Array, private readonly source: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private fail(problem: string): never {
    throw new FormatError(`${this.source}: ${problem}`);
  }

  private take(count: number): number {
    const start = this.at;
    if (count < 0 || start + count > this.bytes.length) this.fail(`the pickle ends inside an opcode's argument at byte ${start}`);
    this.at += count;
    return start;
  }

  private u8(): number {
    return this.bytes[this.take(1)];
  }

  private u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  private text(length: number): string {
    const start = this.take(length);
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(this.bytes.subarray(start, start + length));
    } catch {
      return this.fail(`a string at byte ${start} is not valid UTF-8`);
    }
  }

  /** A newline-terminated line, as GLOBAL's module and name are written. */
  private line(): string {
    const end = this.bytes.indexOf(0x0a, this.at);
    if (end < 0) this.fail(`the pickle ends inside a GLOBAL at byte ${this.at}`);
    const text = this.text(end - this.at);
    this.take(1);
    return text;
  }

  private pop(): PickleValue {
    if (this.stack.length === 0) this.fail(`the pickle pops an empty stack at byte ${this.at - 1}`);
    const value = this.stack.pop() as StackItem;
    if (value === MARK) this.fail(`the pickle pops a mark at byte ${this.at - 1}`);
    return value;
  }

  private top(): PickleValue {
    const value = this.stack[this.stack.length - 1];
    if (value === undefined || value === MARK) this.fail(`the pickle needs a value on the stack at byte ${this.at - 1}`);
    return value;
  }

  private popToMark(): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) this.fail(`the pickle has no mark to pop to at byte ${this.at - 1}`);
    const items = this.stack.splice(mark) as StackItem[];
    items.shift();
    return items as PickleValue[];
  }

  private global(module: string, name: string): PyGlobal {
    const qualified = `${module}.${name}`;
    if (!ALLOWED_GLOBALS.has(qualified)) this.fail(`the pickle refers to '${qualified}', which a state dict of tensors never uses; ${RESAVE_HINT}`);
    return new PyGlobal(module, name);
  }

  private setItems(target: PickleValue, items: PickleValue[]): void {
    if (!(target instanceof PyDict)) this.fail(`the pickle sets items on a ${typeName(target)} at byte ${this.at - 1}`);
    if (items.length % 2 !== 0) this.fail(`the pickle sets an odd number of keys and values at byte ${this.at - 1}`);
    for (let i = 0; i < items.length; i += 2) {
      const key = items[i];
      if (typeof key !== 'string' && typeof key !== 'number') this.fail(`the pickle uses a ${typeName(key)} as a dict key`);
      target.entries.set(key, items[i + 1]);
    }
  }

  private reduce(callable: PickleValue, args: PickleValue): PickleValue {
    if (!(callable instanceof PyGlobal)) return this.fail(`the pickle calls a ${typeName(callable)}; ${RESAVE_HINT}`);
    if (!(args instanceof PyTuple)) return this.fail(`the pickle calls '${callable.qualifiedName}' with a ${typeName(args)} instead of an argument tuple`);
    const a = args.items;
    switch (callable.qualifiedName) {
      case ORDERED_DICT:
        if (a.length !== 0) this.fail(`the pickle calls ${ORDERED_DICT} with arguments`);
        return new PyDict();
      case REBUILD_TENSOR: {
        if (a.length < 6 || a.length > 7) this.fail(`${REBUILD_TENSOR} takes 6 or 7 arguments, the pickle gives ${a.length}`);
        const [storage, offset, shape, stride] = a;
        if (!(storage instanceof StorageRef)) return this.fail(`${REBUILD_TENSOR} is given a ${typeName(storage)} instead of a storage`);
        return new TensorRef(storage, this.size(offset, 'storage offset'), this.sizes(shape, 'size'), this.sizes(stride, 'stride'));
      }
      case REBUILD_PARAMETER:
        if (!(a[0] instanceof TensorRef)) this.fail(`${REBUILD_PARAMETER} is given a ${typeName(a[0])} instead of a tensor`);
        return a[0];
      default:
        return this.fail(`the pickle calls '${callable.qualifiedName}', which builds no tensor or dict; ${RESAVE_HINT}`);
    }
  }

  private size(value: PickleValue, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) this.fail(`a tensor's ${what} is ${typeName(value)} ${String(value)}, expected a non-negative integer`);
    return value as number;
  }

  private sizes(value: PickleValue, what: string): number[] {
    if (!(value instanceof PyTuple)) return this.fail(`a tensor's ${what} is a ${typeName(value)}, expected a tuple`);
    return value.items.map((item) => this.size(item, what));
  }

  private persistentLoad(pid: PickleValue): StorageRef {
    if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
      return this.fail(`the pickle has a persistent id that is not ('storage', type, key, location, numel)`);
    }
    const [, type, key, , numel] = pid.items;
    if (!(type instanceof PyGlobal) || type.module !== 'torch' || !(STORAGE_TYPES as readonly string[]).includes(type.name)) {
      return this.fail(`a persistent id names storage type ${type instanceof PyGlobal ? type.qualifiedName : typeName(type)}`);
    }
    if (typeof key !== 'string') return this.fail(`a persistent id's storage key is a ${typeName(key)}`);
    return new StorageRef(type.name, key, this.size(numel, 'storage size'));
  }

  run(): PickleValue {
    for (;;) {
      if (this.at >= this.bytes.length) this.fail('the pickle ends without a STOP opcode');
      const position = this.at;
      const opcode = this.u8();
      switch (opcode) {
        case 0x80: // PROTO
          if (this.u8() > 5) this.fail(`the pickle uses protocol ${this.bytes[position + 1]}`);
          break;
        case 0x95: // FRAME: a length hint only
          this.take(8);
          break;
        case 0x2e: // STOP
          if (this.stack.length !== 1 || this.marks.length !== 0) this.fail(`the pickle stops with ${this.stack.length} values on its stack`);
          return this.pop();
        case 0x28: // MARK
          this.marks.push(this.stack.length);
          this.stack.push(MARK);
          break;
        case 0x7d: // EMPTY_DICT
          this.stack.push(new PyDict());
          break;
        case 0x5d: // EMPTY_LIST
          this.stack.push(new PyList([]));
          break;
        case 0x29: // EMPTY_TUPLE
          this.stack.push(new PyTuple([]));
          break;
        case 0x74: // TUPLE
          this.stack.push(new PyTuple(this.popToMark()));
          break;
        case 0x85: // TUPLE1
        case 0x86: // TUPLE2
        case 0x87: { // TUPLE3
          const items = Array.from({ length: opcode - 0x84 }, () => this.pop()).reverse();
          this.stack.push(new PyTuple(items));
          break;
        }
        case 0x58: // BINUNICODE
          this.stack.push(this.text(this.u32()));
          break;
        case 0x8c: // SHORT_BINUNICODE
          this.stack.push(this.text(this.u8()));
          break;
        case 0x4b: // BININT1
          this.stack.push(this.u8());
          break;
        case 0x4d: // BININT2
          this.stack.push(this.u16());
          break;
        case 0x4a: // BININT
          this.stack.push(this.view.getInt32(this.take(4), true));
          break;
        case 0x8a: { // LONG1
          const length = this.u8();
          const start = this.take(length);
          let value = 0n;
          for (let i = length - 1; i >= 0; i--) value = (value << 8n) | BigInt(this.bytes[start + i]);
          if (length > 0) value = BigInt.asIntN(length * 8, value);
          if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`the pickle has an integer ${value} too large for a tensor`);
          this.stack.push(Number(value));
          break;
        }
        case 0x47: // BINFLOAT (big-endian)
          this.stack.push(this.view.getFloat64(this.take(8), false));
          break;
        case 0x4e: // NONE
          this.stack.push(null);
          break;
        case 0x88: // NEWTRUE
          this.stack.push(true);
          break;
        case 0x89: // NEWFALSE
          this.stack.push(false);
          break;
        case 0x71: // BINPUT
          this.memo.set(this.u8(), this.top());
          break;
        case 0x72: // LONG_BINPUT
          this.memo.set(this.u32(), this.top());
          break;
        case 0x94: // MEMOIZE
          this.memo.set(this.memo.size, this.top());
          break;
        case 0x68: // BINGET
        case 0x6a: { // LONG_BINGET
          const index = opcode === 0x68 ? this.u8() : this.u32();
          if (!this.memo.has(index)) this.fail(`the pickle reads memo entry ${index}, which was never stored`);
          this.stack.push(this.memo.get(index) as PickleValue);
          break;
        }
        case 0x63: { // GLOBAL
          const module = this.line();
          const name = this.line();
          this.stack.push(this.global(module, name));
          break;
        }
        case 0x93: { // STACK_GLOBAL
          const name = this.pop();
          const module = this.pop();
          if (typeof module !== 'string' || typeof name !== 'string') this.fail('STACK_GLOBAL is given something other than two strings');
          this.stack.push(this.global(module as string, name as string));
          break;
        }
        case 0x52: { // REDUCE
          const args = this.pop();
          const callable = this.pop();
          this.stack.push(this.reduce(callable, args));
          break;
        }
        case 0x62: { // BUILD: only the attributes torch sets on a state dict (_metadata), which are dropped
          const state = this.pop();
          const target = this.top();
          if (!(target instanceof PyDict) || !(state instanceof PyDict)) this.fail(`the pickle sets the state of a ${typeName(target)}; ${RESAVE_HINT}`);
          break;
        }
        case 0x73: { // SETITEM
          const value = this.pop();
          const key = this.pop();
          this.setItems(this.top(), [key, value]);
          break;
        }
        case 0x75: { // SETITEMS
          const items = this.popToMark();
          this.setItems(this.top(), items);
          break;
        }
        case 0x61: { // APPEND
          const value = this.pop();
          const list = this.top();
          if (!(list instanceof PyList)) this.fail(`the pickle appends to a ${typeName(list)}`);
          (list as PyList).items.push(value);
          break;
        }
        case 0x65: { // APPENDS
          const items = this.popToMark();
          const list = this.top();
          if (!(list instanceof PyList)) this.fail(`the pickle appends to a ${typeName(list)}`);
          (list as PyList).items.push(...items);
          break;
        }
        case 0x51: // BINPERSID
          this.stack.push(this.persistentLoad(this.pop()));
          break;
        default: {
          const name = OPCODE_NAMES[opcode] ?? `0x${opcode.toString(16).padStart(2, '0')}`;
          this.fail(`the pickle uses opcode ${name} at byte ${position}, which a state dict of tensors does not; ${RESAVE_HINT}`);
        }
      }
    }
  }
}

function typeName(value: PickleValue | undefined): string {
  if (value === null) return 'None';
  if (value === undefined) return 'nothing';
  if (typeof value !== 'object') return typeof value;
  return value.constructor.name;
}

/** Interprets a restricted pickle; `source` names it in errors (e.g. 'model/pytorch_model.bin: data.pkl'). */
export function readPickle(bytes: Uint8Array, source: string): PickleValue {
  return new Interpreter(bytes, source).run();
}
