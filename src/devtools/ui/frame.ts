/**
 * The panel's outer element: the theme, the hooks tests read on it
 * (data-state, -total, -count, -traveling, -source, -filtering, aria-busy),
 * and a drop zone that imports the NDJSON file dropped on it.
 */
import { progressView } from '../model/log.ts';
import { changed, type View } from './context.ts';
import { h } from './dom.ts';

export interface FrameView extends View {
  readonly root: HTMLDivElement;
  setBusy(busy: boolean): void;
}

export function createFrame(theme: 'auto' | 'light' | 'dark' | undefined, onDrop: (file: File) => void): FrameView {
  const root = h('div', {
    class: `chr-dt${theme === 'dark' ? ' chr-dt-dark' : theme === 'light' ? ' chr-dt-light' : ''}`,
    attrs: { 'data-testid': 'chronicle-devtools', role: 'region', 'aria-label': 'Chronicle devtools', 'data-state': 'loading' },
  });
  root.addEventListener('dragover', (event) => {
    if (event.dataTransfer?.types.includes('Files')) {
      event.preventDefault();
      root.classList.add('chr-dt-drop');
    }
  });
  root.addEventListener('dragleave', (event) => {
    if (event.target === root) root.classList.remove('chr-dt-drop');
  });
  root.addEventListener('drop', (event) => {
    root.classList.remove('chr-dt-drop');
    const file = event.dataTransfer?.files[0];
    if (file) {
      event.preventDefault();
      onDrop(file);
    }
  });

  return {
    root,
    setBusy(busy) {
      if (busy) root.setAttribute('aria-busy', 'true');
      else root.removeAttribute('aria-busy');
    },
    update(state, prev) {
      if (changed(state, prev, (s) => [s.log])) {
        const progress = progressView(state);
        root.dataset.state = progress.state;
        root.dataset.total = String(progress.loaded);
      }
      if (changed(state, prev, (s) => [s.filter.shown])) root.dataset.count = String(state.filter.shown.length);
      if (changed(state, prev, (s) => [s.travel])) {
        const traveling = state.travel !== null;
        root.classList.toggle('chr-dt-traveling', traveling);
        root.dataset.traveling = String(traveling);
      }
      if (changed(state, prev, (s) => [s.scratch])) root.dataset.source = state.scratch ? 'scratch' : 'live';
      if (changed(state, prev, (s) => [s.filter.running])) {
        if (state.filter.running) root.dataset.filtering = 'true';
        else delete root.dataset.filtering;
      }
    },
  };
}
