/**
 * The aggregation stages the stand-in evaluates: those of the fixture's views and those
 * the plugin sends to sample documents. `$sample` is deterministic (a shuffle seeded by
 * the namespace), so repeated runs sample the same documents.
 */
import type { Document } from 'bson';
import { compareValues, matches, valuesAt } from './match';

/** An error a command answers with `{ ok: 0, code, codeName, errmsg }`. */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message);
  }
}

function seeded(seed: string): () => number {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function setPath(target: Document, path: string, value: unknown): void {
  const parts = path.split('.');
  let at = target;
  for (const p of parts.slice(0, -1)) {
    if (typeof at[p] !== 'object' || at[p] === null) at[p] = {};
    at = at[p] as Document;
  }
  at[parts[parts.length - 1]] = value;
}

function project(doc: Document, spec: Document): Document {
  const entries = Object.entries(spec);
  const exclusion = entries.every(([k, v]) => k === '_id' || v === 0 || v === false);
  if (exclusion) {
    const out: Document = structuredClone(doc);
    for (const [k, v] of entries) if (v === 0 || v === false) delete out[k];
    return out;
  }
  const out: Document = {};
  if (spec._id !== 0 && spec._id !== false && doc._id !== undefined) out._id = doc._id;
  for (const [k, v] of entries) {
    if (k === '_id') continue;
    if (typeof v === 'string' && v.startsWith('$')) {
      const [value] = valuesAt(doc, v.slice(1));
      if (value !== undefined) setPath(out, k, value);
    } else if (v === 1 || v === true) {
      const [value] = valuesAt(doc, k);
      if (value !== undefined) setPath(out, k, value);
    }
  }
  return out;
}

/** Runs a pipeline over documents. `seed` makes `$sample` repeatable. */
export function runPipeline(docs: Document[], pipeline: Document[], seed: string): Document[] {
  let out = docs;
  for (const stage of pipeline) {
    const [name, arg] = Object.entries(stage)[0] ?? [];
    switch (name) {
      case '$match':
        out = out.filter((d) => matches(d, arg as Document));
        break;
      case '$project':
        out = out.map((d) => project(d, arg as Document));
        break;
      case '$limit':
        out = out.slice(0, Number(arg));
        break;
      case '$skip':
        out = out.slice(Number(arg));
        break;
      case '$sort': {
        const keys = Object.entries(arg as Document);
        out = [...out].sort((a, b) => {
          for (const [k, dir] of keys) {
            const c = compareValues(valuesAt(a, k)[0], valuesAt(b, k)[0]);
            if (c !== 0) return Number(dir) < 0 ? -c : c;
          }
          return 0;
        });
        break;
      }
      case '$sample': {
        const size = Number((arg as Document).size);
        if (!Number.isInteger(size) || size < 0) throw new CommandError(28747, 'Location28747', 'size argument to $sample must not be negative');
        if (size >= out.length) break;
        const random = seeded(seed);
        const copy = [...out];
        for (let i = 0; i < size; i++) {
          const j = i + Math.floor(random() * (copy.length - i));
          [copy[i], copy[j]] = [copy[j], copy[i]];
        }
        out = copy.slice(0, size);
        break;
      }
      case '$count':
        out = out.length === 0 ? [] : [{ [String(arg)]: out.length }];
        break;
      default:
        throw new CommandError(40324, 'Location40324', `Unrecognized pipeline stage name: '${name}'`);
    }
  }
  return out;
}
