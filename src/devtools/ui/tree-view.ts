/**
 * A collapsible view of an encoded value. Children are built only when a
 * node is opened; containers that were truncated fetch their items through
 * `expand` (from the source that encoded them), 100 at a time.
 */
import { containerLabel, previewText, type Encoded, type EncodedContainer, type EncodedItem } from '../encode.ts';
import { h, setAttrs, setText } from './dom.ts';

export interface TreeOptions {
  expand(ref: string, offset?: number): Promise<Encoded>;
  /** Levels open at first (default 1: the root's children are listed). */
  openDepth?: number;
  /** Wraps async work so the panel can report when it is idle. */
  track?<T>(work: Promise<T>): Promise<T>;
}

const isContainer = (value: Encoded): value is EncodedContainer =>
  value.t === 'object' || value.t === 'array' || value.t === 'map' || value.t === 'set';

function leafClass(value: Encoded): string {
  switch (value.t) {
    case 'string':
      return 'chr-dt-v-string';
    case 'number':
    case 'bigint':
      return 'chr-dt-v-number';
    case 'boolean':
      return 'chr-dt-v-boolean';
    case 'null':
    case 'undefined':
      return 'chr-dt-v-null';
    default:
      return 'chr-dt-v-special';
  }
}

/** A leaf's text as shown (h() and setText write invisible characters as their escapes). */
function leafText(value: Encoded): string {
  return value.t === 'string' ? JSON.stringify(value.v) : previewText(value);
}

/** Renders a primitive (or a collapsed container) inline, for diff lines and previews. */
export function renderInline(value: Encoded): HTMLElement {
  if (isContainer(value)) return h('span', { class: 'chr-dt-summary', text: previewText(value) });
  return h('span', { class: leafClass(value), text: leafText(value) });
}

export function renderTree(value: Encoded, options: TreeOptions, rootLabel?: string): HTMLElement {
  const openDepth = options.openDepth ?? 1;
  const track = <T>(work: Promise<T>) => (options.track ? options.track(work) : work);

  const keyNode = (label: string | undefined, kind: 'key' | 'index' | 'mapKey' = 'key') =>
    label === undefined
      ? null
      : h(
          'span',
          { class: `chr-dt-key${kind === 'index' ? ' chr-dt-key-index' : ''}` },
          label,
          h('span', { class: 'chr-dt-punct', text: kind === 'mapKey' ? ' => ' : ': ' }),
        );

  const leaf = (item: Encoded, label: string | undefined, kind: 'key' | 'index' | 'mapKey'): HTMLElement => {
    const row = h('div', { class: 'chr-dt-node chr-dt-leaf' }, h('span', { class: 'chr-dt-twisty-space' }), keyNode(label, kind));
    const valueEl = h('span', { class: leafClass(item), text: leafText(item) });
    row.append(valueEl);
    if (item.t === 'string' && item.ref && item.length > item.v.length) {
      const more = h('button', {
        class: 'chr-dt-link',
        attrs: { type: 'button' },
        text: `show all ${item.length.toLocaleString('en-US')} characters`,
      });
      more.addEventListener('click', () => {
        more.disabled = true;
        void track(options.expand(item.ref!))
          .then((full) => {
            if (full.t === 'string') {
              setText(valueEl, JSON.stringify(full.v));
              more.remove();
              if (full.length > full.v.length)
                row.append(h('span', { class: 'chr-dt-muted', text: ` (first ${full.v.length.toLocaleString('en-US')} shown)` }));
            }
          })
          .catch((error: unknown) => {
            more.replaceWith(h('span', { class: 'chr-dt-error', text: ` ${error instanceof Error ? error.message : String(error)}` }));
          });
      });
      row.append(' ', more);
    }
    return row;
  };

  const itemLabel = (container: EncodedContainer, item: EncodedItem, index: number): [string | undefined, 'key' | 'index' | 'mapKey'] => {
    if (container.t === 'map') return [item.mapKey ? previewText(item.mapKey, 1) : '?', 'mapKey'];
    if (container.t === 'array') return [item.key ?? String(index), 'index'];
    if (container.t === 'set') return [undefined, 'index'];
    return [item.key, 'key'];
  };

  const node = (item: Encoded, label: string | undefined, kind: 'key' | 'index' | 'mapKey', depth: number): HTMLElement => {
    if (!isContainer(item) || item.size === 0) return leaf(item, label, kind);
    const container = item;
    const wrapper = h('div', { class: 'chr-dt-node chr-dt-branch' });
    const twisty = h('button', {
      class: 'chr-dt-twisty',
      attrs: { type: 'button', 'aria-expanded': 'false', 'aria-label': `${label ?? containerLabel(container) ?? 'value'}: expand` },
    });
    const line = h(
      'div',
      { class: 'chr-dt-line' },
      twisty,
      keyNode(label, kind),
      h('span', { class: 'chr-dt-summary', text: previewText(container) }),
    );
    const children = h('ul', { class: 'chr-dt-children', attrs: { role: 'group', hidden: true } });
    wrapper.append(line, children);
    let built = false;
    let items: EncodedItem[] = container.items ? [...container.items] : [];
    let loadedFrom = container.offset ?? 0;
    let moreButton: HTMLButtonElement | null = null;

    const appendItems = (list: EncodedItem[], startIndex: number) => {
      list.forEach((child, i) => {
        const [childLabel, childKind] = itemLabel(container, child, startIndex + i);
        children.append(h('li', {}, node(child.value, childLabel, childKind, depth + 1)));
      });
    };
    const updateMore = () => {
      moreButton?.closest('li')?.remove();
      moreButton = null;
      const shown = loadedFrom + items.length;
      if (shown < container.size && container.ref) {
        const left = container.size - shown;
        moreButton = h('button', {
          class: 'chr-dt-link',
          attrs: { type: 'button' },
          text: `show ${Math.min(100, left)} more (${left.toLocaleString('en-US')} left)`,
        });
        const button = moreButton;
        button.addEventListener('click', () => {
          button.disabled = true;
          void track(options.expand(container.ref!, shown))
            .then((next) => {
              if (!isContainer(next) || !next.items) return;
              button.closest('li')?.remove();
              moreButton = null;
              appendItems(next.items, shown);
              items = items.concat(next.items);
              updateMore();
            })
            .catch((error: unknown) => {
              button.replaceWith(h('span', { class: 'chr-dt-error', text: error instanceof Error ? error.message : String(error) }));
            });
        });
        children.append(h('li', { class: 'chr-dt-more' }, moreButton));
      }
    };
    const build = async () => {
      if (built) return;
      built = true;
      if (!container.items && container.ref) {
        children.append(h('li', { class: 'chr-dt-muted', text: 'loading…' }));
        try {
          const full = await track(options.expand(container.ref, 0));
          children.replaceChildren();
          if (isContainer(full) && full.items) {
            items = full.items;
            loadedFrom = full.offset ?? 0;
            if (full.ref) container.ref = full.ref;
          }
        } catch (error) {
          children.replaceChildren(h('li', { class: 'chr-dt-error', text: error instanceof Error ? error.message : String(error) }));
          built = false;
          return;
        }
      }
      appendItems(items, loadedFrom);
      updateMore();
    };
    const setOpen = (open: boolean) => {
      twisty.setAttribute('aria-expanded', String(open));
      setAttrs(twisty, { 'aria-label': `${label ?? (containerLabel(container) || 'value')}: ${open ? 'collapse' : 'expand'}` });
      children.hidden = !open;
      wrapper.classList.toggle('chr-dt-open', open);
      if (open) void build();
    };
    twisty.addEventListener('click', () => setOpen(children.hidden));
    line.addEventListener('click', (event) => {
      if (event.target !== twisty && !(event.target instanceof HTMLButtonElement)) setOpen(children.hidden);
    });
    if (depth < openDepth && container.items) setOpen(true);
    return wrapper;
  };

  return h('div', { class: 'chr-dt-tree' }, node(value, rootLabel, 'key', 0));
}
