// The one way the page makes elements: text is always text (textContent),
// never markup, so a title like <img onerror=…> shows as those characters.

type Attrs = Record<string, string>;

export function el(tag: string, attrs: Attrs = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.toLowerCase().startsWith('on')) throw new Error(`event attributes are not allowed: ${k}`);
    e.setAttribute(k, v);
  }
  for (const c of children) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}
