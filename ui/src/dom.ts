// The one way the page makes elements: text is always text (textContent),
// never markup, so a title like <img onerror=…> shows as those characters.
// No inline styles or event attributes either: the CSP forbids them.

type Attrs = Record<string, string>;
type Child = Node | string;

export function el(tag: string, attrs: Attrs = {}, ...children: Child[]): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.toLowerCase().startsWith('on') || k.toLowerCase() === 'style') {
      throw new Error(`attribute not allowed: ${k}`);
    }
    e.setAttribute(k, v);
  }
  for (const c of children) e.append(typeof c === 'string' ? document.createTextNode(c) : c);
  return e;
}

export function input(id: string, attrs: Attrs = {}): HTMLInputElement {
  return el('input', { id, name: id, ...attrs }) as HTMLInputElement;
}

/// A labelled field.
export function field(label: string, control: HTMLElement): HTMLElement {
  return el('label', { class: 'field' }, el('span', {}, label), control);
}

export function button(text: string, id: string, onClick: (b: HTMLButtonElement) => void | Promise<void>,
  cls = ''): HTMLButtonElement {
  const b = el('button', { type: 'button', id, class: cls }, text) as HTMLButtonElement;
  b.addEventListener('click', () => void onClick(b));
  return b;
}

export function table(id: string, headers: string[], rows: Child[][]): HTMLElement {
  return el('table', { id },
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))),
    el('tbody', {}, ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
}

export function select(id: string, options: [string, string][], value = ''): HTMLSelectElement {
  const s = el('select', { id, name: id }, ...options.map(([v, label]) => {
    const o = el('option', { value: v }, label) as HTMLOptionElement;
    if (v === value) o.selected = true;
    return o;
  })) as HTMLSelectElement;
  return s;
}

export function checkbox(id: string, checked = false): HTMLInputElement {
  const c = input(id, { type: 'checkbox' });
  c.checked = checked;
  return c;
}
