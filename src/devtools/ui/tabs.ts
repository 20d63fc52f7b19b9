/**
 * The detail side of the panel: a tab strip (← → Home End move between
 * tabs) over one panel per tab. Each tab is a view made by a TabDefinition
 * (ui/tabs/*.ts); the list in ui/tabs/index.ts says which tabs there are
 * and in what order.
 */
import type { PanelState, TabId } from '../model/state.ts';
import type { PanelContext, View } from './context.ts';
import { h } from './dom.ts';

export interface TabView extends View {
  /** The tab's content (the strip wraps it in its tabpanel). */
  readonly element: HTMLElement;
  /** Shown in the tab's button after its label (a count, say). */
  readonly badge?: HTMLElement;
}

export interface TabDefinition {
  /** Stable id: the tab's `data-testid` is `devtools-tab-<id>`. */
  id: TabId;
  label: string;
  create(ctx: PanelContext): TabView;
}

export interface TabsView extends View {
  readonly element: HTMLElement;
}

export function createTabs(ctx: PanelContext, definitions: readonly TabDefinition[]): TabsView {
  const { uid } = ctx;
  const initial = ctx.state().tab;
  const tabs = definitions.map((definition) => {
    const view = definition.create(ctx);
    const { id } = definition;
    const button = h(
      'button',
      {
        class: 'chr-dt-tab',
        attrs: {
          type: 'button',
          role: 'tab',
          id: `${uid}-tab-${id}`,
          'aria-controls': `${uid}-panel-${id}`,
          'aria-selected': String(id === initial),
          tabindex: id === initial ? 0 : -1,
          'data-testid': `devtools-tab-${id}`,
        },
        on: { click: () => ctx.commands.chooseTab(id) },
      },
      definition.label,
      view.badge ?? null,
    );
    const panel = h(
      'div',
      {
        class: 'chr-dt-tabpanel',
        attrs: { role: 'tabpanel', id: `${uid}-panel-${id}`, 'aria-labelledby': `${uid}-tab-${id}`, hidden: id !== initial, tabindex: 0 },
      },
      view.element,
    );
    return { id, view, button, panel };
  });

  const strip = h('div', { class: 'chr-dt-tabs', attrs: { role: 'tablist', 'aria-label': 'Details' } }, ...tabs.map((t) => t.button));
  strip.addEventListener('keydown', (event) => {
    const at = tabs.findIndex((t) => t.id === ctx.state().tab);
    let next: number | undefined;
    if (event.key === 'ArrowRight') next = (at + 1) % tabs.length;
    else if (event.key === 'ArrowLeft') next = (at + tabs.length - 1) % tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = tabs.length - 1;
    const tab = next === undefined ? undefined : tabs[next];
    if (tab) {
      event.preventDefault();
      ctx.commands.chooseTab(tab.id);
      tab.button.focus();
    }
  });

  const element = h('section', { class: 'chr-dt-side', attrs: { 'aria-label': 'Details' } }, strip, ...tabs.map((t) => t.panel));

  return {
    element,
    update(state: PanelState, prev: PanelState | null) {
      if (state.tab !== prev?.tab) {
        for (const { id, button, panel } of tabs) {
          button.setAttribute('aria-selected', String(id === state.tab));
          button.tabIndex = id === state.tab ? 0 : -1;
          panel.hidden = id !== state.tab;
        }
      }
      for (const { view } of tabs) view.update(state, prev);
    },
    dispose() {
      for (const { view } of tabs) view.dispose?.();
    },
  };
}
