/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and says where the time went: self
 * time by function, and by area (a package, a pokequeue source file, Node internals, GC, idle).
 * Native work such as JSON.parse or Buffer#toString shows as self time of the JS function that
 * called it, so `fetchPokemon`'s self time is mostly its JSON.parse.
 */
import { readFileSync } from 'node:fs';
import type { Table } from './report';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Time not idle: what the process spent working. */
  busyMs: number;
  byArea: { area: string; ms: number }[];
  byFunction: { fn: string; area: string; ms: number }[];
  /** Inclusive (self + callees) time of chosen functions. */
  inclusive: { fn: string; ms: number }[];
}

/** Summarizes one profile; `watch` names functions whose inclusive time to report. */
export function summarizeProfile(file: string, watch: string[] = []): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const n of profile.nodes) byId.set(n.id, n);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    // timeDeltas[i] is the time before sample i; attribute the next delta to sample i instead, as
    // DevTools does: the sample says where the thread was for the interval that follows it.
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
  }
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const areaMs = new Map<string, number>();
  const fnMs = new Map<string, { area: string; ms: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id)!;
    const area = areaOf(node);
    total += ms;
    if (area === '(idle)') idle += ms;
    areaMs.set(area, (areaMs.get(area) ?? 0) + ms);
    const fn = fnName(node);
    const entry = fnMs.get(fn) ?? { area, ms: 0 };
    entry.ms += ms;
    fnMs.set(fn, entry);
  }

  const inclusive = watch.map((name) => {
    let ms = 0;
    for (const [id, t] of self) {
      // Count a sample once if any frame on its stack is the watched function.
      for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
        if (byId.get(cur)!.callFrame.functionName === name) {
          ms += t;
          break;
        }
      }
    }
    return { fn: name, ms };
  });

  return {
    totalMs: total,
    busyMs: total - idle,
    byArea: [...areaMs].map(([area, ms]) => ({ area, ms })).sort((a, b) => b.ms - a.ms),
    byFunction: [...fnMs].map(([fn, v]) => ({ fn, area: v.area, ms: v.ms })).sort((a, b) => b.ms - a.ms),
    inclusive,
  };
}

function areaOf(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  if (functionName === '(garbage collector)' || functionName === '(idle)' || functionName === '(program)' || functionName === '(root)') {
    return functionName;
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const ours = /\/dist\/((?:src|bench)\/.+?)\.js/.exec(url);
  if (ours) return ours[1]!;
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').split('/').slice(0, 2).join('/');
  return url ? url : '(native)';
}

function fnName(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/(node_modules\/)?/, '');
  return `${functionName || '(anonymous)'}${url ? ` ${file}:${lineNumber + 1}` : ''}`;
}

/** Two tables for the report: areas and the top functions, as ms and % of busy time. */
export function profileTables(title: string, s: ProfileSummary, top = 12): Table[] {
  const pct = (ms: number) => `${((ms / Math.max(1, s.busyMs)) * 100).toFixed(1)}%`;
  const areas: Table = {
    title: `${title}: self time by area (busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms profiled)`,
    header: ['area', 'ms', '% of busy'],
    rows: s.byArea.filter((a) => a.area !== '(idle)').slice(0, top).map((a) => [a.area, a.ms.toFixed(0), pct(a.ms)]),
  };
  const fns: Table = {
    title: `${title}: top functions by self time`,
    header: ['function', 'area', 'ms', '% of busy'],
    rows: s.byFunction.filter((f) => f.area !== '(idle)').slice(0, top).map((f) => [`\`${f.fn}\``, f.area, f.ms.toFixed(0), pct(f.ms)]),
  };
  const tables = [areas, fns];
  if (s.inclusive.length) {
    tables.push({
      title: `${title}: inclusive time of pipeline steps`,
      header: ['function', 'ms', '% of busy'],
      rows: s.inclusive.map((i) => [`\`${i.fn}\``, i.ms.toFixed(0), pct(i.ms)]),
    });
  }
  return tables;
}
