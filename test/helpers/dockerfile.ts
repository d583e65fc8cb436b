import { readFileSync } from 'node:fs';

/** One Dockerfile instruction, continuation lines joined. */
export interface Instruction {
  op: string;
  args: string;
}

export interface Stage {
  /** Its `AS` name, or its index. */
  name: string;
  lines: Instruction[];
}

/** A Dockerfile's instructions, continuation lines joined, comments dropped. */
export function parseDockerfile(file: string): { instructions: Instruction[]; stages: Stage[] } {
  const instructions = readFileSync(file, 'utf8')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
  // Instructions per build stage, in order; each stage starts at a FROM.
  const stages = instructions.reduce<Stage[]>((acc, ins) => {
    if (ins.op === 'FROM') acc.push({ name: /\sAS\s+(\S+)/i.exec(ins.args)?.[1] ?? String(acc.length), lines: [] });
    else acc[acc.length - 1]?.lines.push(ins);
    return acc;
  }, []);
  return { instructions, stages };
}

/** A COPY's flags (`--from=build`), sources and destination. */
export function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  return {
    from: flags.map((f) => /^--from=(.+)$/.exec(f)?.[1]).find((f) => f !== undefined),
    sources: paths.slice(0, -1),
    dest: paths[paths.length - 1]!,
  };
}

/** The exec form of ENTRYPOINT or CMD (`["node", "x.js"]`), as an array. */
export function execForm(args: string | undefined): string[] {
  if (!args) return [];
  const parsed = JSON.parse(args) as unknown;
  if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error(`not an exec form: ${args}`);
  return parsed;
}
