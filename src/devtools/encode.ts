/**
 * Safe, lazy serialisation of arbitrary values for display.
 *
 * A state can be huge, cyclic, or hold Maps, Sets, Dates and class
 * instances. `encode` turns it into a small JSON-safe tree (so it crosses
 * postMessage and extension ports unchanged) spending at most `budget`
 * nodes, breadth first: the top levels come whole, deeper containers and
 * long strings come back as stubs with a `ref` that `expand` fills later.
 * The encoder keeps the values behind refs in a bounded LRU.
 */
import { DevtoolsError, thrownText } from './errors.ts';

export type EncodedContainerType = 'object' | 'array' | 'map' | 'set';

export interface EncodedContainer {
  t: EncodedContainerType;
  /** Constructor name: Object, Array, Map, Set, Uint8Array, a class name... */
  name: string;
  /** Keys, items or entries in all. */
  size: number;
  /** Present when more items can be fetched with expand(ref, offset). */
  ref?: string;
  /** Items from `offset` on; absent when none were loaded yet. */
  items?: EncodedItem[];
  offset?: number;
}

export interface EncodedItem {
  /** Object key or array index. */
  key?: string;
  /** A Map entry's key. */
  mapKey?: Encoded;
  value: Encoded;
}

export type Encoded =
  | { t: 'null' }
  | { t: 'undefined' }
  | { t: 'boolean'; v: boolean }
  /** As text, so NaN, Infinity and -0 survive JSON. */
  | { t: 'number'; v: string }
  | { t: 'bigint'; v: string }
  /** `v` is cut to a prefix when `length` is larger; `ref` fetches all of it. */
  | { t: 'string'; v: string; length: number; ref?: string }
  | { t: 'symbol' | 'function' | 'date' | 'regexp' | 'error' | 'opaque' | 'circular'; v: string }
  | EncodedContainer;

export interface EncoderOptions {
  /** Values kept for expand(); the oldest are forgotten first. Default 5000. */
  maxRefs?: number;
  /** Items per container per fetch. Default 100. */
  pageSize?: number;
  /** Characters of a string shown before it is cut. Default 240. */
  maxString?: number;
  /** Characters of a string an expand returns at most. Default 200,000. */
  maxExpandedString?: number;
}

export interface ValueEncoder {
  /** Encodes a value spending about `budget` nodes (default 400). */
  encode(value: unknown, budget?: number): Encoded;
  /** More of a value behind a ref: a container's items from offset, or a whole string. */
  expand(ref: string, offset?: number, budget?: number): Encoded;
  /** Forgets every ref. */
  clear(): void;
}

interface Chain {
  value: object;
  parent: Chain | null;
}

interface Job {
  value: object;
  node: EncodedContainer;
  chain: Chain | null;
  offset: number;
}

const DEFAULT_BUDGET = 400;

function onChain(chain: Chain | null, value: object): boolean {
  for (let link = chain; link; link = link.parent) if (link.value === value) return true;
  return false;
}

function constructorName(value: object): string {
  try {
    const proto = Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null;
    const name = proto?.constructor?.name;
    return typeof name === 'string' && name ? name : 'Object';
  } catch {
    return 'Object';
  }
}

function isTypedArray(value: object): value is ArrayLike<unknown> & object {
  return ArrayBuffer.isView(value) && !(value instanceof DataView);
}

function numberText(value: number): string {
  return Object.is(value, -0) ? '-0' : String(value);
}

/** Own enumerable string keys, or none if the object refuses (a hostile proxy). */
function keysOf(value: object): string[] {
  try {
    return Object.keys(value);
  } catch {
    return [];
  }
}

function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch (error) {
    return new UnreadableValue(error);
  }
}

class UnreadableValue {
  constructor(readonly error: unknown) {}
}

function unreadable(error: unknown): Encoded {
  return { t: 'opaque', v: `(unreadable: ${thrownText(error)})` };
}

function isContainer(node: Encoded): node is EncodedContainer {
  return node.t === 'object' || node.t === 'array' || node.t === 'map' || node.t === 'set';
}

/** What an object shows as: a leaf, or a container to fill (empty for now). May throw on a hostile Proxy. */
function classify(object: object): Encoded {
  if (object instanceof UnreadableValue) return unreadable(object.error);
  if (object instanceof Date) return { t: 'date', v: Number.isNaN(object.getTime()) ? 'Invalid Date' : object.toISOString() };
  if (object instanceof RegExp) return { t: 'regexp', v: String(object) };
  if (object instanceof Error) return { t: 'error', v: `${object.name}: ${object.message}` };
  if (object instanceof Promise || object instanceof WeakMap || object instanceof WeakSet) {
    return { t: 'opaque', v: constructorName(object) };
  }
  if (typeof Node === 'function' && object instanceof Node) return { t: 'opaque', v: `<${object.nodeName.toLowerCase()}>` };
  if (object instanceof Map) return { t: 'map', name: constructorName(object), size: object.size };
  if (object instanceof Set) return { t: 'set', name: constructorName(object), size: object.size };
  if (Array.isArray(object)) return { t: 'array', name: constructorName(object), size: object.length };
  if (isTypedArray(object)) return { t: 'array', name: constructorName(object), size: object.length };
  if (object instanceof ArrayBuffer) return { t: 'opaque', v: `ArrayBuffer(${object.byteLength})` };
  return { t: 'object', name: constructorName(object), size: keysOf(object).length };
}

export function createEncoder(options: EncoderOptions = {}): ValueEncoder {
  const maxRefs = options.maxRefs ?? 5000;
  const pageSize = options.pageSize ?? 100;
  const maxString = options.maxString ?? 240;
  const maxExpandedString = options.maxExpandedString ?? 200_000;
  const refs = new Map<string, unknown>();
  let nextRef = 1;

  const remember = (value: unknown): string => {
    const ref = `r${nextRef++}`;
    refs.set(ref, value);
    if (refs.size > maxRefs) {
      const oldest = refs.keys().next().value;
      if (oldest !== undefined) refs.delete(oldest);
    }
    return ref;
  };

  /** A node for one value; containers come back empty (and are queued by the caller). */
  const shallow = (value: unknown, chain: Chain | null, jobs: Job[]): Encoded => {
    switch (typeof value) {
      case 'undefined':
        return { t: 'undefined' };
      case 'boolean':
        return { t: 'boolean', v: value };
      case 'number':
        return { t: 'number', v: numberText(value) };
      case 'bigint':
        return { t: 'bigint', v: `${value}n` };
      case 'string':
        if (value.length <= maxString) return { t: 'string', v: value, length: value.length };
        return { t: 'string', v: value.slice(0, maxString), length: value.length, ref: remember(value) };
      case 'symbol':
        return { t: 'symbol', v: value.toString() };
      case 'function':
        return { t: 'function', v: `ƒ ${value.name || 'anonymous'}()` };
    }
    if (value === null) return { t: 'null' };
    const object = value as object;
    if (onChain(chain, object)) return { t: 'circular', v: `[Circular ${constructorName(object)}]` };
    let node: EncodedContainer | Encoded;
    try {
      node = classify(object);
    } catch (error) {
      // `instanceof` and Array.isArray throw on a revoked Proxy (a leaked Immer draft looks like that) or a
      // Proxy whose traps throw: shown as unreadable, the rest of the state still shows.
      return unreadable(error);
    }
    if (isContainer(node) && node.size > 0) jobs.push({ value: object, node, chain, offset: 0 });
    return node;
  };

  /** Fills one container's items from its offset, queueing child containers. */
  const fill = (job: Job, jobs: Job[]): number => {
    const { value, node, offset } = job;
    const end = Math.min(node.size, offset + pageSize);
    const chain: Chain = { value, parent: job.chain };
    const items: EncodedItem[] = [];
    try {
      // By the kind shallow() found, not `instanceof` again: a Proxy may answer differently the second time.
      if (node.t === 'map') {
        let i = 0;
        for (const [k, v] of value as Map<unknown, unknown>) {
          if (i >= end) break;
          if (i++ < offset) continue;
          items.push({ mapKey: shallow(k, chain, jobs), value: shallow(v, chain, jobs) });
        }
      } else if (node.t === 'set') {
        let i = 0;
        for (const v of value as Set<unknown>) {
          if (i >= end) break;
          if (i++ < offset) continue;
          items.push({ value: shallow(v, chain, jobs) });
        }
      } else if (node.t === 'array') {
        for (let i = offset; i < end; i++) items.push({ key: String(i), value: shallow(read(value, String(i)), chain, jobs) });
      } else {
        const keys = keysOf(value);
        for (let i = offset; i < Math.min(end, keys.length); i++) {
          const key = keys[i]!;
          items.push({ key, value: shallow(read(value, key), chain, jobs) });
        }
      }
    } catch (error) {
      // A Proxy of a Map or Set passes `instanceof` but cannot be iterated: what was read shows, then the failure,
      // and the container ends there (an expand would only fail again).
      items.push({ key: '…', value: unreadable(error) });
      node.size = offset + items.length;
    }
    node.items = items;
    node.offset = offset;
    if (offset + items.length < node.size) node.ref = remember(value);
    return items.length;
  };

  /** Breadth first: the first job always fills, the rest while the budget lasts; what is left gets a ref. */
  const run = (jobs: Job[], budget: number) => {
    let spent = 0;
    for (let i = 0; i < jobs.length; i++) {
      const job = jobs[i]!;
      const cost = Math.min(job.node.size - job.offset, pageSize);
      if (i > 0 && spent + cost > budget) {
        job.node.ref = remember(job.value);
        continue;
      }
      spent += fill(job, jobs);
    }
  };

  return {
    encode(value, budget = DEFAULT_BUDGET) {
      const jobs: Job[] = [];
      const root = shallow(value, null, jobs);
      run(jobs, budget);
      return root;
    },
    expand(ref, offset = 0, budget = DEFAULT_BUDGET) {
      if (!refs.has(ref)) throw new DevtoolsError('EXPIRED', 'This value is no longer held: select the event again to see it');
      const value = refs.get(ref);
      // Touch it: recently used refs are kept longest.
      refs.delete(ref);
      refs.set(ref, value);
      if (typeof value === 'string') {
        const v = value.slice(0, maxExpandedString);
        return { t: 'string', v, length: value.length };
      }
      const jobs: Job[] = [];
      const node = shallow(value, null, jobs);
      const first = jobs[0];
      if (first && first.node === node) first.offset = Math.max(0, Math.min(offset, (node as EncodedContainer).size));
      run(jobs, budget);
      return node;
    },
    clear() {
      refs.clear();
    },
  };
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/** A one-line preview of an encoded value, like a browser console shows it. */
export function previewText(value: Encoded, depth = 0): string {
  switch (value.t) {
    case 'null':
      return 'null';
    case 'undefined':
      return 'undefined';
    case 'boolean':
      return String(value.v);
    case 'number':
    case 'bigint':
      return value.v;
    case 'string':
      return value.length > value.v.length
        ? `${quote(value.v.slice(0, 60))}…`
        : quote(value.v.length > 80 && depth > 0 ? `${value.v.slice(0, 60)}…` : value.v);
    case 'date':
      return value.v;
    case 'symbol':
    case 'function':
    case 'regexp':
    case 'error':
    case 'opaque':
    case 'circular':
      return value.v;
    default:
      return containerPreview(value, depth);
  }
}

export function containerLabel(node: EncodedContainer): string {
  switch (node.t) {
    case 'map':
    case 'set':
      return `${node.name}(${node.size})`;
    case 'array':
      return `${node.name}(${node.size})`;
    default:
      return node.name === 'Object' ? '' : node.name;
  }
}

function containerPreview(node: EncodedContainer, depth: number): string {
  const [open, close] = node.t === 'array' ? ['[', ']'] : ['{', '}'];
  const label = containerLabel(node);
  const prefix = label ? `${label} ` : '';
  if (node.size === 0) return `${prefix}${open}${close}`;
  if (depth > 0 || !node.items) return `${prefix}${open}…${close}`;
  const parts: string[] = [];
  let length = 0;
  for (const item of node.items.slice(0, 6)) {
    const value = previewText(item.value, depth + 1);
    const part =
      node.t === 'map'
        ? `${item.mapKey ? previewText(item.mapKey, depth + 1) : '?'} => ${value}`
        : node.t === 'object'
          ? `${item.key}: ${value}`
          : value;
    length += part.length;
    parts.push(part);
    if (length > 80) break;
  }
  const more = parts.length < node.size ? ', …' : '';
  return `${prefix}${open}${parts.join(', ')}${more}${close}`;
}
