/**
 * The event-type filter's options, sorted. Types arrive with each page of the
 * log; the select takes just the new ones, each put before the listed type it
 * sorts before, instead of being rebuilt and sorted whole for every page (with
 * many distinct types, that was quadratic and froze the page for seconds).
 */

export interface TypePlacement {
  type: string;
  /** The listed type it goes right before; null: at the end. */
  before: string | null;
}

export interface PlacedTypes {
  /** Every type, sorted. */
  types: string[];
  /** The types not listed before, in sorted order, each with where it goes. */
  placements: TypePlacement[];
}

/** String order by UTF-16 code units: the order Array.prototype.sort gives strings by default. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Merges `added` (any order; repeats and types already listed are ignored) into `listed` (sorted). */
export function placeTypes(listed: readonly string[], added: readonly string[]): PlacedTypes {
  const fresh = added.slice().sort(byCodeUnits);
  const types: string[] = [];
  const placements: TypePlacement[] = [];
  let i = 0;
  for (let j = 0; j < fresh.length; j++) {
    const type = fresh[j]!;
    if (j > 0 && fresh[j - 1] === type) continue;
    while (i < listed.length && listed[i]! < type) types.push(listed[i++]!);
    if (listed[i] === type) continue;
    types.push(type);
    placements.push({ type, before: listed[i] ?? null });
  }
  while (i < listed.length) types.push(listed[i++]!);
  return { types, placements };
}
