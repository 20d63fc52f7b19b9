import { describe, expect, it } from 'vitest';
import {
  buildPages,
  clientRanges,
  eventsOfPage,
  lastSeqs,
  PAGE_CHARS,
  PAGE_EVENTS,
  PAGE_SEPARATOR,
  pageParams,
  parseEnds,
  type Page,
} from '../../src/server/store/pages.ts';

/**
 * The server store's pages (schema 5, src/server/store/pages.ts), without a
 * database: how a write's events are cut into pages, where each event's text
 * ends in its page, how a pull takes positions back out of pages, and the
 * client ranges and aggregate heads a write records beside them.
 */

/** A stored event's text as the store keeps it (JSON with its position), `n` filling its data. */
const stored = (position: number, data: unknown = position): string => JSON.stringify({ id: `e${position}`, data, position });

/** Texts of positions first..first + count - 1. */
const texts = (first: number, count: number): string[] => Array.from({ length: count }, (_, i) => stored(first + i));

/** Checks what every page must hold: its positions' texts, joined by ',', each ending where `ends` says. */
function expectWellFormed(pages: readonly Page[], first: number, all: readonly string[]): void {
  let position = first;
  for (const page of pages) {
    expect(page.first).toBe(position);
    const mine = all.slice(page.first - first, page.last - first + 1);
    expect(mine.length).toBe(page.last - page.first + 1);
    expect(page.events).toBe(mine.join(','));
    expect(page.ends.length).toBe(mine.length);
    mine.forEach((text, i) => {
      const start = i === 0 ? 0 : page.ends[i - 1]! + 1;
      expect(page.events.slice(start, page.ends[i])).toBe(text);
    });
    position = page.last + 1;
  }
  expect(position).toBe(first + all.length);
}

/** What a pull gets from these pages for positions (after, upTo]. */
function pullOf(pages: readonly Page[], after: number, upTo: number): string[] {
  const out: string[] = [];
  for (const page of pages) eventsOfPage(page, after, upTo, out);
  return out;
}

describe('buildPages', () => {
  it('given no events, then there is no page', () => {
    expect(buildPages(1, [])).toEqual([]);
  });

  it('given more than PAGE_EVENTS small events from position 1, then each page holds PAGE_EVENTS of them and the last the rest', () => {
    const all = texts(1, 2 * PAGE_EVENTS + 3);
    const pages = buildPages(1, all);
    expect(pages.map((p) => [p.first, p.last])).toEqual([
      [1, PAGE_EVENTS],
      [1 + PAGE_EVENTS, 2 * PAGE_EVENTS],
      [1 + 2 * PAGE_EVENTS, 3 + 2 * PAGE_EVENTS],
    ]);
    expectWellFormed(pages, 1, all);
  });

  it('given events from another position, then no page crosses a multiple of PAGE_EVENTS (a pull of PAGE_EVENTS from there reads its own events only)', () => {
    const all = texts(41, 2 * PAGE_EVENTS + 3);
    const pages = buildPages(41, all);
    expect(pages.map((p) => [p.first, p.last])).toEqual([
      [41, PAGE_EVENTS],
      [1 + PAGE_EVENTS, 2 * PAGE_EVENTS],
      [1 + 2 * PAGE_EVENTS, 43 + 2 * PAGE_EVENTS],
    ]);
    expectWellFormed(pages, 41, all);
    // The same with a write that starts one before a boundary: its first page is that one event.
    expect(buildPages(PAGE_EVENTS, texts(PAGE_EVENTS, 3)).map((p) => [p.first, p.last])).toEqual([
      [PAGE_EVENTS, PAGE_EVENTS],
      [PAGE_EVENTS + 1, PAGE_EVENTS + 2],
    ]);
  });

  it('given exactly PAGE_EVENTS events, then they are one page', () => {
    const pages = buildPages(1, texts(1, PAGE_EVENTS));
    expect(pages.map((p) => [p.first, p.last])).toEqual([[1, PAGE_EVENTS]]);
  });

  it('given a smaller event limit, then pages are cut by it', () => {
    const all = texts(1, 10);
    const pages = buildPages(1, all, 4);
    expect(pages.map((p) => [p.first, p.last])).toEqual([
      [1, 4],
      [5, 8],
      [9, 10],
    ]);
    expectWellFormed(pages, 1, all);
  });

  it('given events whose texts add up past the character limit, then a page ends before the event that would pass it (commas count)', () => {
    // 4 + 1 + 4 = 9 characters fit a limit of 9 exactly; a third event would make 14.
    const all = ['aaaa', 'bbbb', 'cccc', 'dddd', 'eeee'];
    const pages = buildPages(1, all, PAGE_EVENTS, 9);
    expect(pages.map((p) => p.events)).toEqual(['aaaa,bbbb', 'cccc,dddd', 'eeee']);
    expectWellFormed(pages, 1, all);
    // One character less and no two of them fit a page.
    expect(buildPages(1, all, PAGE_EVENTS, 8).map((p) => p.events)).toEqual(all);
  });

  it('given an event larger than the character limit, then it is alone on its page, and the events around it are on their own', () => {
    const big = 'x'.repeat(25);
    const all = ['a', 'b', big, 'c', 'd'];
    const pages = buildPages(1, all, PAGE_EVENTS, 9);
    expect(pages.map((p) => [p.first, p.last, p.events])).toEqual([
      [1, 2, 'a,b'],
      [3, 3, big],
      [4, 5, 'c,d'],
    ]);
    expect(pages[1]!.ends).toEqual([25]);
    expectWellFormed(pages, 1, all);
  });

  it('given PAGE_CHARS: no page of several events passes it, and an event larger than it is alone', () => {
    const third = Math.floor(PAGE_CHARS / 3);
    const all = [
      stored(1, 'a'.repeat(third)),
      stored(2, 'b'.repeat(third)),
      stored(3, 'c'.repeat(third)),
      stored(4, 'd'.repeat(PAGE_CHARS)),
      stored(5, 'e'),
    ];
    const pages = buildPages(1, all);
    expect(pages.map((p) => [p.first, p.last])).toEqual([
      [1, 2], // the three thirds with their JSON around them pass PAGE_CHARS
      [3, 3], // the next one is too large to share a page with it
      [4, 4],
      [5, 5],
    ]);
    for (const page of pages) {
      if (page.last > page.first) expect(page.events.length).toBeLessThanOrEqual(PAGE_CHARS);
    }
    expect(pages[2]!.events.length).toBeGreaterThan(PAGE_CHARS);
    expectWellFormed(pages, 1, all);
  });

  it('given non-ASCII and astral characters, then ends are JavaScript string offsets (UTF-16 code units), not bytes or code points', () => {
    const all = ['{"s":"é"}', '{"s":"😀"}', '{"s":"a😀b"}', '{"s":"注文"}', '{"s":"👩‍👩‍👧"}', '{"s":"\\ud83d\\ude00"}'];
    const [page, ...rest] = buildPages(10, all);
    expect(rest).toEqual([]);
    // Lengths 9, 10, 12, 10, 16, 20, one comma between each two.
    expect(page!.ends).toEqual([9, 20, 33, 44, 61, 82]);
    expect(page!.ends[page!.ends.length - 1]).toBe(page!.events.length);
    expectWellFormed([page!], 10, all);
    // Every event comes back whole: no surrogate pair is cut.
    expect(pullOf([page!], 9, 15)).toEqual(all);
    for (let after = 9; after <= 15; after++) expect(pullOf([page!], after, after + 1)).toEqual(all.slice(after - 9, after - 8));
  });

  it('given events with emoji cut into pages by characters, then each page stays well formed and no page passes the limit', () => {
    const all = Array.from({ length: 40 }, (_, i) => stored(i + 1, '😀'.repeat(i % 7) + 'é'.repeat(i % 3)));
    const pages = buildPages(1, all, PAGE_EVENTS, 120);
    expect(pages.length).toBeGreaterThan(5);
    for (const page of pages) {
      if (page.last > page.first) expect(page.events.length).toBeLessThanOrEqual(120);
    }
    expectWellFormed(pages, 1, all);
    expect(pullOf(pages, 0, 40)).toEqual(all);
  });
});

describe('eventsOfPage', () => {
  it('given pages of positions 1..10, then every range (after, upTo] comes back exactly, across page boundaries', () => {
    const all = texts(1, 10).map((t, i) => (i % 3 === 0 ? t.replace('}', ',"x":"😀é"}') : t));
    const pages = buildPages(1, all, 4);
    expect(pages.length).toBe(3);
    for (let after = 0; after <= 10; after++) {
      for (let upTo = after; upTo <= 12; upTo++) {
        expect(pullOf(pages, after, upTo), `(${after}, ${upTo}]`).toEqual(all.slice(after, Math.min(upTo, 10)));
      }
    }
  });

  it('given a page that does not start at 1, then positions count from its first', () => {
    const all = texts(1001, 5);
    const [page] = buildPages(1001, all);
    expect(pullOf([page!], 1002, 1004)).toEqual([all[2], all[3]]);
    expect(pullOf([page!], 0, 1001)).toEqual([all[0]]);
    expect(pullOf([page!], 1005, 2000)).toEqual([]);
    expect(pullOf([page!], 0, 1000)).toEqual([]);
  });

  it('appends to what `out` holds', () => {
    const [page] = buildPages(1, ['{"a":1}', '{"b":2}']);
    const out = ['{"before":0}'];
    eventsOfPage(page!, 0, 2, out);
    expect(out).toEqual(['{"before":0}', '{"a":1}', '{"b":2}']);
  });

  it('given a damaged page (its ends do not fit its text), then it throws instead of guessing', () => {
    const [page] = buildPages(7, ['{"a":1}', '{"b":"😀"}', '{"c":3}']);
    const damaged = [
      { ...page!, events: `${page!.events} ` }, // text longer than its ends say
      { ...page!, events: page!.events.slice(0, -1) }, // shorter
      { ...page!, events: page!.events.replace('😀', 'x') }, // one code point, one code unit fewer
      { ...page!, ends: page!.ends.slice(0, -1) }, // an event's end lost
      { ...page!, ends: [] },
      { ...page!, events: '', ends: [] },
    ];
    for (const bad of damaged) {
      expect(() => eventsOfPage(bad, 6, 9, []), JSON.stringify(bad)).toThrow(/page at position 7 is damaged/);
    }
  });

  // Without the check of every end, such a page is cut where its ends say, and a pull serves fragments
  // such as '{"a":1},{' and 'b":2}' as events.
  it('given a page whose earlier ends do not fall on the separators, then it throws', () => {
    const [page] = buildPages(7, ['{"a":1}', '{"b":2}', '{"c":3}']);
    expect(page!.ends).toEqual([7, 15, 23]);
    for (const ends of [
      [9, 15, 23], // the first event's end inside the second event
      [15, 7, 23], // ends that go back
      [6, 15, 23], // an end inside the first event, where no separator is
      [7, 7, 23], // an empty event
    ]) {
      expect(() => eventsOfPage({ ...page!, ends }, 6, 9, []), JSON.stringify(ends)).toThrow(/page at position 7 is damaged/);
    }
  });
});

describe('parseEnds', () => {
  it("reads array_to_string(ends, ','): nothing for an empty text, the numbers otherwise", () => {
    expect(parseEnds('')).toEqual([]);
    expect(parseEnds('42')).toEqual([42]);
    expect(parseEnds('3,8,15')).toEqual([3, 8, 15]);
    const [page] = buildPages(1, texts(1, 20));
    expect(parseEnds(page!.ends.join(','))).toEqual(page!.ends);
  });
});

describe('clientRanges', () => {
  const row = (position: number, clientId: string, clientSeq: number) => ({
    position,
    clientId,
    clientSeq,
    id: `${clientId}:${clientSeq}`,
  });

  it('given no rows, then no range', () => {
    expect(clientRanges([])).toEqual([]);
  });

  it('given one client whose clientSeqs and positions go on by one, then one range with its ids in order', () => {
    expect(clientRanges([row(5, 'a', 1), row(6, 'a', 2), row(7, 'a', 3)])).toEqual([
      { clientId: 'a', from: 1, to: 3, first: 5, ids: ['a:1', 'a:2', 'a:3'] },
    ]);
  });

  it('given a change of client, then a new range, also when the first client comes back', () => {
    expect(clientRanges([row(1, 'a', 1), row(2, 'a', 2), row(3, 'b', 1), row(4, 'a', 3), row(5, 'a', 4)])).toEqual([
      { clientId: 'a', from: 1, to: 2, first: 1, ids: ['a:1', 'a:2'] },
      { clientId: 'b', from: 1, to: 1, first: 3, ids: ['b:1'] },
      { clientId: 'a', from: 3, to: 4, first: 4, ids: ['a:3', 'a:4'] },
    ]);
  });

  it('given a gap in the clientSeqs, then a new range (also when the clientSeq goes back)', () => {
    expect(clientRanges([row(1, 'a', 1), row(2, 'a', 3), row(3, 'a', 4), row(4, 'a', 2)])).toEqual([
      { clientId: 'a', from: 1, to: 1, first: 1, ids: ['a:1'] },
      { clientId: 'a', from: 3, to: 4, first: 2, ids: ['a:3', 'a:4'] },
      { clientId: 'a', from: 2, to: 2, first: 4, ids: ['a:2'] },
    ]);
  });

  it('given a gap in the positions, then a new range', () => {
    expect(clientRanges([row(1, 'a', 1), row(2, 'a', 2), row(4, 'a', 3), row(5, 'a', 4)])).toEqual([
      { clientId: 'a', from: 1, to: 2, first: 1, ids: ['a:1', 'a:2'] },
      { clientId: 'a', from: 3, to: 4, first: 4, ids: ['a:3', 'a:4'] },
    ]);
  });

  it('given rows starting at any position, then the first range starts there', () => {
    expect(clientRanges([row(1, 'a', 7)])).toEqual([{ clientId: 'a', from: 7, to: 7, first: 1, ids: ['a:7'] }]);
    expect(clientRanges([row(9, 'a', 1), row(10, 'b', 1), row(11, 'b', 2)])).toEqual([
      { clientId: 'a', from: 1, to: 1, first: 9, ids: ['a:1'] },
      { clientId: 'b', from: 1, to: 2, first: 10, ids: ['b:1', 'b:2'] },
    ]);
  });
});

describe('lastSeqs', () => {
  it('keeps, per aggregate, the seq of its last row', () => {
    const heads = lastSeqs([
      { aggregateId: 'o1', seq: 4 },
      { aggregateId: 'o2', seq: 1 },
      { aggregateId: 'o1', seq: 5 },
      { aggregateId: 'o1', seq: 6 },
      { aggregateId: 'o2', seq: 2 },
      { aggregateId: 'o3', seq: 9 },
    ]);
    expect([...heads]).toEqual([
      ['o1', 6],
      ['o2', 2],
      ['o3', 9],
    ]);
  });

  it('given no rows, then no heads', () => {
    expect(lastSeqs([]).size).toBe(0);
  });
});

describe('pageParams', () => {
  it('gives firsts, lasts and ends as JSON arrays, and texts that split back by PAGE_SEPARATOR into the pages', () => {
    // Texts that hold commas, escaped control characters (even an escaped U+0001 after a comma), quotes and emoji.
    const all = [
      stored(1, 'a,b'),
      stored(2, ',\u0001,'),
      stored(3, '\u0001'),
      stored(4, '"😀"'),
      stored(5, { nested: [1, ',', '\\u0001'] }),
      stored(6, ''),
      stored(7, '注文'),
    ];
    expect(all.some((t) => t.includes('\u0001'))).toBe(false); // JSON escapes it
    const pages = buildPages(1, all, 2);
    expect(pages.length).toBe(4);
    const [firsts, lasts, joined, ends] = pageParams(pages);
    expect(JSON.parse(firsts)).toEqual([1, 3, 5, 7]);
    expect(JSON.parse(lasts)).toEqual([2, 4, 6, 7]);
    expect(joined.split(PAGE_SEPARATOR)).toEqual(pages.map((p) => p.events));
    expect(JSON.parse(ends)).toEqual(pages.map((p) => `{${p.ends.join(',')}}`));
    // The texts travel as they are (no escaping): their length is the pages' and the separators'.
    expect(joined.length).toBe(pages.reduce((n, p) => n + p.events.length, 0) + PAGE_SEPARATOR.length * (pages.length - 1));
  });

  it('given one page, then the texts are that page as it is', () => {
    const pages = buildPages(1, texts(1, 3));
    const [firsts, lasts, joined, ends] = pageParams(pages);
    expect([firsts, lasts, joined, ends]).toEqual(['[1]', '[3]', pages[0]!.events, JSON.stringify([`{${pages[0]!.ends.join(',')}}`])]);
    expect(joined.split(PAGE_SEPARATOR)).toEqual([pages[0]!.events]);
  });

  it('PAGE_SEPARATOR is a comma and U+0001, which no JSON text holds', () => {
    expect(PAGE_SEPARATOR).toBe(',\u0001');
    expect(JSON.stringify({ s: PAGE_SEPARATOR })).not.toContain('\u0001');
  });
});
