import { showInvisibles } from '../format.ts';

/**
 * A tiny DOM builder: no framework, no virtual DOM. Every text it puts on
 * screen (text, string children, setText, titles and aria labels) goes
 * through showInvisibles: the panel shows app data (ids, types, keys,
 * values) in many places, and a bidi override in any of them must read as
 * its escape, not reorder what is shown around it.
 */

type Child = Node | string | number | null | undefined | false;

export interface Props {
  class?: string;
  text?: string;
  /** Attributes (aria-*, data-*, role, title, type...); null/false leave them out. */
  attrs?: Record<string, string | number | boolean | null | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.attrs) setAttrs(el, props.attrs);
  if (props.on) {
    for (const [type, handler] of Object.entries(props.on)) if (handler) el.addEventListener(type, handler as EventListener);
  }
  if (props.text !== undefined) el.textContent = showInvisibles(props.text);
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : showInvisibles(String(child)));
  }
}

/** Attributes a person reads (tooltips, screen readers): escaped as text is. Values (data-*, value) stay exact. */
const SHOWN_ATTRIBUTES = new Set(['title', 'aria-label', 'aria-valuetext', 'aria-description', 'placeholder', 'label']);

export function setAttrs(el: Element, attrs: Record<string, string | number | boolean | null | undefined>): void {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) el.removeAttribute(name);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, SHOWN_ATTRIBUTES.has(name) ? showInvisibles(String(value)) : String(value));
  }
}

/** Sets a tooltip (title), escaped as text is. */
export function setTitle(el: HTMLElement, title: string): void {
  const shown = showInvisibles(title);
  if (el.title !== shown) el.title = shown;
}

export function clear(el: Element): void {
  el.replaceChildren();
}

/** Sets text only when it changed (cheap for recycled rows). */
export function setText(el: Element, text: string): void {
  const shown = showInvisibles(text);
  if (el.textContent !== shown) el.textContent = shown;
}

const SVG = 'http://www.w3.org/2000/svg';

/** A 16px icon from one path (currentColor). */
export function icon(path: string): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 16 16');
  svg.setAttribute('width', '14');
  svg.setAttribute('height', '14');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const p = document.createElementNS(SVG, 'path');
  p.setAttribute('d', path);
  p.setAttribute('fill', 'currentColor');
  svg.append(p);
  return svg;
}

export const ICONS = {
  first: 'M3 3h2v10H3zM13 3v10L6 8z',
  prev: 'M11 3v10L4 8z',
  next: 'M5 3v10l7-5z',
  last: 'M11 3h2v10h-2zM3 3v10l7-5z',
  resume: 'M2 3v10l6-5zM8 3v10l6-5z',
  download: 'M7 2h2v6h2.5L8 11.5 4.5 8H7zM3 12h10v2H3z',
  upload: 'M7 14h2V8h2.5L8 4.5 4.5 8H7zM3 2h10v2H3z',
  back: 'M7 3 2 8l5 5V9.5h7v-3H7z',
} as const;

/** Lets the browser paint and handle input between slices of long work. */
export function yieldToBrowser(): Promise<void> {
  const scheduler = (globalThis as { scheduler?: { yield?: () => Promise<void> } }).scheduler;
  if (scheduler?.yield) return scheduler.yield();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

let uid = 0;
export function uniqueId(prefix: string): string {
  uid++;
  return `${prefix}-${uid.toString(36)}`;
}
