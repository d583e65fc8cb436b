/**
 * The known names nearest to one that is not known, for "did you mean" in an unknown-name error:
 * `pikachuu` → pikachu, `mewtoo` → mewtwo, `charman` → charmander. Pure.
 *
 * A candidate is near when its edit distance (insertions, deletions, substitutions and swaps of
 * two neighbours) is at most a third of the name's length (at least 1), or when it starts with
 * the name (3 letters or more): a prefix is how people abbreviate. Nearest first; ties go to the
 * shorter, then the alphabetically first name. O(candidates × length²): 1351 names of at most
 * 27 letters take well under a millisecond.
 */
export function nearestNames(name: string, candidates: Iterable<string>, max = 3): string[] {
  const limit = Math.max(1, Math.floor(name.length / 3));
  const near: { candidate: string; score: number }[] = [];
  for (const candidate of candidates) {
    if (candidate === name) continue;
    // A prefix ranks after a one-letter typo and before anything further away.
    const prefix = name.length >= 3 && candidate.startsWith(name);
    if (!prefix && Math.abs(candidate.length - name.length) > limit) continue;
    const distance = editDistance(name, candidate);
    if (distance <= limit) near.push({ candidate, score: distance });
    else if (prefix) near.push({ candidate, score: 1.5 });
  }
  near.sort((a, b) => a.score - b.score || a.candidate.length - b.candidate.length || (a.candidate < b.candidate ? -1 : 1));
  return near.slice(0, max).map((n) => n.candidate);
}

/** Optimal string alignment distance: Levenshtein plus the swap of two neighbouring letters. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[(i - 1) * cols + j]! + 1, d[i * cols + j - 1]! + 1, d[(i - 1) * cols + j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[(i - 2) * cols + j - 2]! + 1);
      d[i * cols + j] = v;
    }
  }
  return d[rows * cols - 1]!;
}
