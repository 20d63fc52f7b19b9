/**
 * The panes the event and what-if tabs show states in: a titled section
 * with a note (version, change count), filled with an expandable state tree
 * or a list of changes.
 */
import type { DiffResult } from '../diff.ts';
import type { Encoded } from '../encode.ts';
import type { DevtoolsSource } from '../types.ts';
import { append, h } from './dom.ts';
import { renderInline, renderTree } from './tree-view.ts';

export interface Pane {
  el: HTMLElement;
  note: HTMLElement;
  body: HTMLElement;
}

type Track = <T>(work: Promise<T>) => Promise<T>;

export function createPane(testid: string, title: string): Pane {
  const note = h('small');
  const body = h('div');
  const el = h('section', { class: 'chr-dt-pane', attrs: { 'data-testid': testid, 'aria-label': title } }, h('h3', {}, title, note), body);
  return { el, note, body };
}

export function setBusy(panes: readonly Pane[], busy: boolean): void {
  for (const pane of panes) {
    if (busy) pane.el.setAttribute('aria-busy', 'true');
    else pane.el.removeAttribute('aria-busy');
  }
}

/** A message instead of a state (an error, or why there is none). */
export function showMessage(panes: readonly Pane[], text: string, kind: 'hint' | 'error'): void {
  setBusy(panes, false);
  for (const pane of panes) {
    pane.note.textContent = '';
    pane.body.replaceChildren(h('p', { class: kind === 'hint' ? 'chr-dt-hint' : 'chr-dt-error', text }));
  }
}

export function fillState(pane: Pane, view: { version: number; state: Encoded }, source: DevtoolsSource, track: Track): void {
  pane.el.removeAttribute('aria-busy');
  pane.note.textContent = `version ${view.version}`;
  pane.body.replaceChildren(renderTree(view.state, { expand: (ref, offset) => source.expand(ref, offset), openDepth: 2, track }));
}

export function fillDiff(pane: Pane, diff: DiffResult, source: DevtoolsSource, track: Track, emptyText: string): void {
  pane.el.removeAttribute('aria-busy');
  const n = diff.changes.length;
  pane.note.textContent = n === 0 ? '' : `${n}${diff.truncated ? '+' : ''} change${n === 1 ? '' : 's'}`;
  if (n === 0) {
    pane.body.replaceChildren(h('p', { class: 'chr-dt-hint', text: emptyText }));
    return;
  }
  const expand = (ref: string, offset?: number) => source.expand(ref, offset);
  const valueView = (value: Encoded) =>
    value.t === 'object' || value.t === 'array' || value.t === 'map' || value.t === 'set'
      ? renderTree(value, { expand, openDepth: 0, track })
      : renderInline(value);
  const list = h('ul', { class: 'chr-dt-diff-list' });
  for (const change of diff.changes) {
    const sign = change.kind === 'added' ? '+' : change.kind === 'removed' ? '−' : '~';
    const values = h('div', { class: 'chr-dt-diff-values' });
    if (change.kind === 'changed') {
      const old = valueView(change.before!);
      old.classList.add('chr-dt-diff-old');
      append(values, old, h('span', { class: 'chr-dt-arrow', text: '→', attrs: { 'aria-label': 'becomes' } }), valueView(change.after!));
    } else {
      append(values, valueView((change.kind === 'added' ? change.after : change.before)!));
    }
    list.append(
      h(
        'li',
        { class: 'chr-dt-diff-item', attrs: { 'data-kind': change.kind } },
        h('span', { class: 'chr-dt-diff-sign', attrs: { 'aria-label': change.kind }, text: sign }),
        h('span', { class: 'chr-dt-diff-path', text: change.path || '(the whole state)' }),
        values,
      ),
    );
  }
  pane.body.replaceChildren(list);
  if (diff.truncated) pane.body.append(h('p', { class: 'chr-dt-hint', text: 'More changes than shown: the list stops here.' }));
}
