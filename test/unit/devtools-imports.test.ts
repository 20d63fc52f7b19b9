// The devtools' import rules, read from the source: no import circles, and
// nothing outside src/devtools but the package's public entries.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const devtools = join(root, 'src/devtools');
/** What `chronicle` and `chronicle/core` export. */
const PUBLIC_ENTRIES = new Set(['src/client/index.ts', 'src/core/index.ts']);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Import {
  target: string;
  line: string;
}

/** Relative imports and re-exports of a file (type-only ones too: they make circles as well). */
function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const out: Import[] = [];
  const pattern = /^(?:import|export)\s[^;]*?from\s+'(\.{1,2}\/[^']+)'/gms;
  for (const match of text.matchAll(pattern)) {
    const start = text.lastIndexOf('\n', match.index) + 1;
    const end = text.indexOf('\n', match.index + match[0].length);
    out.push({ target: resolve(dirname(file), match[1]!), line: text.slice(start, end === -1 ? undefined : end) });
  }
  return out;
}

function findCycle(graph: Map<string, string[]>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

const files = sourceFiles(devtools);
const rel = (path: string) => relative(root, path);

describe('devtools imports', () => {
  it('given the devtools sources, when their imports are followed, then no file comes back to itself', () => {
    const graph = new Map(
      files.map((file) => [
        file,
        importsOf(file)
          .map((i) => i.target)
          .filter((t) => t.startsWith(devtools)),
      ]),
    );
    expect(findCycle(graph)?.map(rel) ?? null).toBeNull();
  });

  it('finds a circle when there is one (the check itself works)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(findCycle(graph)).toEqual(['a', 'b', 'c', 'a']);
    expect(
      findCycle(
        new Map([
          ['a', ['b']],
          ['b', []],
        ]),
      ),
    ).toBeNull();
  });

  it('given the devtools sources, when they import from outside src/devtools, then only from public entries (or a marked TODO)', () => {
    const deep: string[] = [];
    for (const file of files) {
      for (const { target, line } of importsOf(file)) {
        if (target.startsWith(devtools) || PUBLIC_ENTRIES.has(rel(target))) continue;
        if (line.includes('TODO(public-entry)')) continue;
        deep.push(`${rel(file)} → ${rel(target)}`);
      }
    }
    expect(deep).toEqual([]);
  });
});
