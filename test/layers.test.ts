/**
 * The README's promise about the source tree: imports point one way, no folder of src/ imports
 * one that imports it (so `stats/` never imports `queue/`, which imports `stats/`). Read from
 * the sources' import statements, type-only imports included: a type is a dependency too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

const SRC = resolve(__dirname, '..', 'src');

type Graph = Map<string, Set<string>>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A file's folder under src/, or the file itself for the few modules at src/'s top. */
function unitOf(file: string): string {
  const parts = relative(SRC, file).split(sep);
  return parts.length > 1 ? `${parts[0]}/` : parts[0]!;
}

/** Which unit imports which, from every relative `from '…'`, `require('…')` and `import('…')`. */
function importGraph(): Graph {
  const graph: Graph = new Map();
  for (const file of sourceFiles(SRC)) {
    const from = unitOf(file);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:\bfrom\s+|\brequire\(\s*|\bimport\(\s*)'(\.{1,2}\/[^']+)'/g)) {
      const target = resolve(dirname(file), m[1]!);
      if (relative(SRC, target).startsWith('..')) continue;
      const to = unitOf(`${target}.ts`);
      if (to === from) continue;
      if (!graph.has(from)) graph.set(from, new Set());
      graph.get(from)!.add(to);
    }
  }
  return graph;
}

/** One cycle of the graph as a path (first node repeated at the end), or null when there is none. */
function findCycle(graph: Graph): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...path.slice(path.indexOf(node)), node];
    state.set(node, 'open');
    path.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

describe('the source tree', () => {
  it('finds a cycle where there is one, and none where there is none (the check itself)', () => {
    const g = (edges: [string, string][]): Graph => {
      const graph: Graph = new Map();
      for (const [a, b] of edges) graph.set(a, (graph.get(a) ?? new Set()).add(b));
      return graph;
    };
    expect(findCycle(g([['queue/', 'stats/'], ['stats/', 'redis/'], ['redis/', 'config/']]))).toBeNull();
    expect(findCycle(g([['queue/', 'stats/'], ['stats/', 'redis/'], ['redis/', 'queue/']]))).toEqual(['queue/', 'stats/', 'redis/', 'queue/']);
  });

  it('has no folder that imports one importing it', () => {
    const graph = importGraph();
    // The graph read is the real one: the worker's folder reaches the batch and the statistics.
    expect([...(graph.get('queue/') ?? [])]).toEqual(expect.arrayContaining(['batch/', 'stats/', 'redis/']));
    const cycle = findCycle(graph);
    expect(cycle === null ? 'no cycle' : `import cycle: ${cycle.join(' → ')}`).toBe('no cycle');
  });

  it('keeps stats/ and batch/ free of BullMQ: they do not import queue/', () => {
    const graph = importGraph();
    expect(graph.get('stats/')?.has('queue/') ?? false).toBe(false);
    expect(graph.get('batch/')?.has('queue/') ?? false).toBe(false);
  });
});
