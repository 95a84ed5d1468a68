// The viewer (D4): a document's bytes come from the shell over IPC into
// memory and are drawn here — PDF pages onto canvases (pdf.js, its worker
// bundled, nothing fetched from outside), images through blob: URLs that
// live in memory, text and CSV as text. Nothing is written to disk, and a
// watermark with the viewer's name and the time lies over every page.
// Leaving the screen (or the lock) drops the pages and the bytes.
// A PDF page is drawn only as it scrolls into view and long tables and
// texts are paged, so a large document never freezes the window.

import * as pdfjs from 'pdfjs-dist';
import workerUrl from 'pdfjs-dist/build/pdf.worker.min.mjs?url';
import Papa from 'papaparse';
import { api, type ViewInfo } from './api';
import { button, el, table } from './dom';
import { t } from './i18n';
import { decodeText, japanTime } from './logic';
import type { Ctx } from './ctx';

pdfjs.GlobalWorkerOptions.workerSrc = workerUrl;

const IMAGE_TYPES: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' };

// Bumped whenever the viewer is left: a view still loading when the
// person moved on (or the window locked) is dropped, not drawn.
let generation = 0;
let open: { urls: string[]; pdf?: pdfjs.PDFDocumentLoadingTask; pages?: HTMLElement; watch?: IntersectionObserver } | null = null;

/// Rows of a table (or lines of a text) shown at once.
export const ROWS_PER_PAGE = 200;

/// Drop whatever the viewer holds: blob URLs, the PDF and its pages.
export function closeViewer(): void {
  generation += 1;
  if (!open) return;
  for (const u of open.urls) URL.revokeObjectURL(u);
  open.watch?.disconnect();
  void open.pdf?.destroy();
  open.pages?.replaceChildren();
  open = null;
}

function mark(info: ViewInfo): string {
  return `${info.viewer} ${japanTime(info.at)}`;
}

/// The watermark laid over one page: the line repeated across it.
function overlay(text: string): HTMLElement {
  const o = el('div', { class: 'watermark', 'aria-hidden': 'true' });
  for (let i = 0; i < 12; i++) o.append(el('span', {}, text));
  return o;
}

function page(content: HTMLElement, text: string): HTMLElement {
  return el('div', { class: 'page' }, content, overlay(text));
}

export async function viewerScreen(c: Ctx, area: HTMLElement, id?: number): Promise<void> {
  closeViewer();
  const mine = generation;
  let info: ViewInfo;
  try {
    info = await api.view(id ?? 0);
  } catch (e) {
    if (mine !== generation) return;
    area.replaceChildren(el('h1', {}, `#${id}`), el('p', { id: 'not-viewable' }, t(c.lang, 'notViewable')),
      button(t(c.lang, 'details'), 'to-details', () => c.go({ screen: 'document', arg: id })));
    c.fail(e);
    return;
  }
  const bytes = new Uint8Array(await api.viewBytes(info.id));
  if (mine !== generation) {
    bytes.fill(0);
    return;
  }
  const pages = el('div', { id: 'viewer-pages' });
  open = { urls: [], pages };
  const text = mark(info);
  area.replaceChildren(
    el('div', { class: 'row' }, el('h1', {}, `#${info.id} ${info.title}`),
      button(t(c.lang, 'close'), 'viewer-close', () => c.go({ screen: 'documents' }), 'quiet')),
    el('p', { id: 'viewer-mark', class: 'hint' }, `${t(c.lang, 'watermark')}: ${text}`),
    pages);
  if (info.kind === 'pdf') await drawPdf(bytes, pages, text, c);
  else if (info.kind in IMAGE_TYPES) {
    const url = URL.createObjectURL(new Blob([bytes], { type: IMAGE_TYPES[info.kind] }));
    open.urls.push(url);
    pages.append(page(el('img', { src: url, alt: info.title, id: 'viewer-image', draggable: 'false' }), text));
  } else if (info.kind === 'csv') {
    const rows = Papa.parse<string[]>(decodeText(bytes), { skipEmptyLines: true }).data;
    const [head, ...body] = rows.length > 0 ? rows : [[]];
    paged(c, pages, body.length, (from, to) => page(table('viewer-table', head, body.slice(from, to)), text));
  } else {
    const lines = decodeText(bytes).split('\n');
    paged(c, pages, lines.length, (from, to) => page(el('pre', { id: 'viewer-text' }, lines.slice(from, to).join('\n')), text));
  }
  // pdf.js took the buffer over (it is detached here, length 0); any
  // other kind is wiped now that it is drawn.
  if (bytes.byteLength > 0) bytes.fill(0);
}

/// Show `total` rows a page at a time, with buttons to move.
function paged(c: Ctx, into: HTMLElement, total: number, draw: (from: number, to: number) => HTMLElement): void {
  let at = 0;
  const where = el('span', { id: 'viewer-rows' });
  const holder = el('div', {});
  const show = () => {
    const to = Math.min(total, at + ROWS_PER_PAGE);
    where.textContent = `${total === 0 ? 0 : at + 1}–${to} / ${total} ${t(c.lang, 'rowsShown')}`;
    prev.disabled = at === 0;
    next.disabled = to >= total;
    holder.replaceChildren(draw(at, to));
  };
  const prev = button(t(c.lang, 'previous'), 'viewer-prev', () => { at = Math.max(0, at - ROWS_PER_PAGE); show(); }, 'quiet');
  const next = button(t(c.lang, 'next'), 'viewer-next', () => { at += ROWS_PER_PAGE; show(); }, 'quiet');
  into.append(...(total > ROWS_PER_PAGE ? [el('div', { class: 'row' }, prev, where, next)] : []), holder);
  show();
}

async function drawPdf(bytes: Uint8Array, pages: HTMLElement, text: string, c: Ctx): Promise<void> {
  const task = pdfjs.getDocument({
    data: bytes,
    cMapUrl: '/pdfjs/cmaps/',
    standardFontDataUrl: '/pdfjs/standard_fonts/',
    useWasm: false,
    enableXfa: false,
  });
  if (open) open.pdf = task;
  const pdf = await task.promise;
  if (!open || open.pdf !== task) return; // left the viewer meanwhile
  // Every page gets a placeholder the size of the first; a page is drawn
  // when it comes near the screen, never all at once.
  const first = (await pdf.getPage(1)).getViewport({ scale: 1.5 });
  const watch = new IntersectionObserver((seen) => {
    for (const s of seen) {
      if (!s.isIntersecting) continue;
      watch.unobserve(s.target);
      const n = Number((s.target as HTMLElement).dataset.page);
      void drawPage(pdf, n, s.target as HTMLElement, text, c, task);
    }
  }, { rootMargin: '400px' });
  open.watch = watch;
  for (let n = 1; n <= pdf.numPages; n++) {
    const hold = el('div', { class: 'pdf-placeholder', 'data-page': String(n) });
    hold.style.width = `${Math.floor(first.width)}px`;
    hold.style.height = `${Math.floor(first.height)}px`;
    pages.append(page(hold, text));
    watch.observe(hold);
  }
}

async function drawPage(pdf: pdfjs.PDFDocumentProxy, n: number, hold: HTMLElement, text: string, c: Ctx,
  task: pdfjs.PDFDocumentLoadingTask): Promise<void> {
  if (!open || open.pdf !== task) return;
  const p = await pdf.getPage(n);
  const viewport = p.getViewport({ scale: 1.5 });
  const canvas = el('canvas', { 'aria-label': `${t(c.lang, 'page')} ${n}` }) as HTMLCanvasElement;
  canvas.width = Math.floor(viewport.width);
  canvas.height = Math.floor(viewport.height);
  const ctx2d = canvas.getContext('2d')!;
  await p.render({ canvasContext: ctx2d, canvas, viewport }).promise;
  if (!open || open.pdf !== task) return;
  // Drawn into the page itself too, so a copy of the canvas carries it.
  ctx2d.save();
  ctx2d.globalAlpha = 0.18;
  ctx2d.fillStyle = '#b00020';
  ctx2d.font = `${Math.round(canvas.width / 28)}px sans-serif`;
  ctx2d.translate(canvas.width / 2, canvas.height / 2);
  ctx2d.rotate(-Math.PI / 6);
  ctx2d.textAlign = 'center';
  for (let y = -canvas.height; y < canvas.height; y += canvas.height / 5) ctx2d.fillText(text, 0, y);
  ctx2d.restore();
  // Named only once drawn: `#pdf-page-N` is a finished page.
  canvas.id = `pdf-page-${n}`;
  hold.replaceWith(canvas);
}
