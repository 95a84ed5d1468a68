// Documents: the list with search and filters, receipt (file chooser or
// drag and drop, the receipt fields, progress), and a document's page
// with its key holders, grants, export approval and export.

import { listen } from '@tauri-apps/api/event';
import { getCurrentWebview } from '@tauri-apps/api/webview';
import { api, type Chosen, type DocumentInfo } from '../api';
import { choice } from '../choice';
import { button, checkbox, el, field, input, select, table } from '../dom';
import { t } from '../i18n';
import { byPerson, filterDocuments, formatSize, japanTime, may, purposes } from '../logic';
import type { Ctx } from '../ctx';

export async function documentList(c: Ctx, area: HTMLElement): Promise<void> {
  const docs = await api.documents();
  const text = input('doc-search', { type: 'search' });
  const purpose = select('doc-purpose', [['', t(c.lang, 'all')], ...purposes(docs).map((p): [string, string] => [p, p])]);
  const personal = checkbox('doc-personal');
  const from = input('doc-from', { type: 'date' });
  const to = input('doc-to', { type: 'date' });
  const holder = el('div', { id: 'doc-table' });
  const draw = () => {
    const shown = filterDocuments(docs, { text: text.value, purpose: purpose.value, personalOnly: personal.checked, from: from.value, to: to.value });
    holder.replaceChildren(shown.length === 0 ? el('p', {}, t(c.lang, 'noDocuments')) :
      table('documents', ['#', t(c.lang, 'docTitle'), t(c.lang, 'purpose'), t(c.lang, 'received'), t(c.lang, 'personal'), ''],
        shown.map((d) => [String(d.id), d.label_hidden ? t(c.lang, 'labelHidden') : d.title, d.purpose, japanTime(d.received_at), d.personal_data ? '●' : '',
          el('span', {},
            button(t(c.lang, 'open'), `view-${d.id}`, () => c.go({ screen: 'viewer', arg: d.id })),
            button(t(c.lang, 'details'), `doc-${d.id}`, () => c.go({ screen: 'document', arg: d.id }), 'quiet'))])));
  };
  for (const f of [text, purpose, personal, from, to]) f.addEventListener('input', draw);
  area.replaceChildren(el('h1', {}, t(c.lang, 'documents')),
    el('div', { class: 'filters' }, field(t(c.lang, 'search'), text), field(t(c.lang, 'purposeFilter'), purpose),
      field(t(c.lang, 'receivedFrom'), from), field(t(c.lang, 'receivedTo'), to),
      el('label', { class: 'check' }, personal, t(c.lang, 'personalOnly'))),
    holder);
  draw();
}

let dropListeners: (() => void)[] = [];

/// Stop listening for dropped files (the frame calls this on leaving).
export function leaveImport(): void {
  for (const stop of dropListeners) stop();
  dropListeners = [];
}

export async function importScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const file = choice(c, 'import-file', 'file');
  const title = input('import-title');
  const origin = input('import-origin');
  const via = input('import-via');
  const purpose = input('import-purpose');
  const personal = checkbox('import-personal', true);
  const bar = el('progress', { id: 'import-progress', max: '100', value: '0' }) as HTMLProgressElement;
  const drop = el('div', { id: 'drop-zone', class: 'drop' }, t(c.lang, 'dropHere'));
  // Cancelling is safe: the core removes the half-written object.
  const stop = button(t(c.lang, 'cancel'), 'import-cancel', () => void api.cancelImport(), 'quiet');
  stop.hidden = true;
  // A dropped file stays in the shell, which hands the page a handle for
  // it (the page never reads its bytes, nor sends a path back); the
  // shell then encrypts straight from the file.
  leaveImport();
  area.replaceChildren(el('h1', {}, t(c.lang, 'import')),
    drop, file.element,
    field(t(c.lang, 'docTitle'), title), field(t(c.lang, 'origin'), origin), field(t(c.lang, 'via'), via),
    field(t(c.lang, 'purpose'), purpose), el('label', { class: 'check' }, personal, t(c.lang, 'personal')),
    button(t(c.lang, 'receive'), 'import-submit', (b) => c.busy(b, async () => {
      bar.value = 0;
      stop.hidden = false;
      try {
        const id = await api.importDocument({
          file: file.take(), origin: origin.value, via: via.value, purpose: purpose.value,
          title: title.value || null, personal_data: personal.checked,
        }, (p) => { bar.value = p.total > 0 ? Math.floor((p.done * 100) / p.total) : 100; });
        bar.value = 100;
        c.ok(`${t(c.lang, 'received_ok')} ${id}`);
        title.value = '';
      } finally {
        stop.hidden = true;
      }
    })),
    bar, stop);
  // Listening starts once the form is on screen, so nothing lands on a
  // form that is being replaced.
  dropListeners.push(await getCurrentWebview().onDragDropEvent((ev) => {
    if (ev.payload.type === 'over') drop.classList.add('over');
    else drop.classList.remove('over');
  }));
  dropListeners.push(await listen<Chosen[]>('kinko://dropped', (ev) => {
    if (ev.payload.length > 0) file.set(ev.payload[0]);
  }));
  if (!drop.isConnected) leaveImport(); // left while the listeners started
}

export async function documentDetail(c: Ctx, area: HTMLElement, id?: number): Promise<void> {
  const d: DocumentInfo = await api.document(id ?? 0);
  const manages = may(c.me, 'document.grant');
  const person = input('grant-person');
  const folder = choice(c, 'export-folder', 'folder', 'exportTo');
  const parts: HTMLElement[] = [
    el('h1', {}, `#${d.id} ${d.label_hidden ? t(c.lang, 'labelHidden') : d.title}`),
    table('document-facts', [t(c.lang, 'key'), t(c.lang, 'value')], [
      [t(c.lang, 'fileName'), d.file_name], [t(c.lang, 'origin'), d.origin], [t(c.lang, 'via'), d.via],
      [t(c.lang, 'purpose'), d.purpose], [t(c.lang, 'personal'), d.personal_data ? '●' : '—'],
      [t(c.lang, 'size'), formatSize(d.size)], [t(c.lang, 'received'), `${japanTime(d.received_at)} ${d.received_by}`],
      ['SHA-256', d.sha256]]),
    el('h2', {}, t(c.lang, 'holders')),
    table('holders', [t(c.lang, 'person'), ''], (d.holders ?? []).map((h) => [h,
      manages ? button(t(c.lang, 'revoke'), `revoke-${h}`, (b) => c.busy(b, async () => {
        await api.revoke(d.id, h);
        c.go({ screen: 'document', arg: d.id });
      }), 'danger') : ''])),
  ];
  if (manages) {
    parts.push(el('div', { class: 'row' }, field(t(c.lang, 'grantTo'), person),
      button(t(c.lang, 'grant'), 'grant-submit', (b) => c.busy(b, async () => {
        await api.grant(d.id, person.value);
        c.go({ screen: 'document', arg: d.id });
      }))));
  }
  if (may(c.me, 'document.approve_export')) {
    const ref = input('approval-ref');
    const who = input('approval-person');
    parts.push(el('h2', {}, t(c.lang, 'approveExport')), el('div', { class: 'row' },
      field(t(c.lang, 'approvalRef'), ref), field(t(c.lang, 'forPerson'), who),
      button(t(c.lang, 'approveExport'), 'approve-export', (b) => c.busy(b, async () => {
        await api.approveExport(d.id, ref.value, who.value || null);
        c.ok(t(c.lang, 'done'));
      }))));
  }
  parts.push(el('h2', {}, t(c.lang, 'export')), el('div', { class: 'row' },
    folder.element,
    button(t(c.lang, 'export'), 'export-submit', (b) => c.busy(b, async () => {
      const r = await api.exportDocument(d.id, folder.take());
      c.ok(`${t(c.lang, 'exported')}: ${formatSize(r.bytes)} SHA-256 ${r.sha256}`);
    }))));
  area.replaceChildren(...parts);
}

/// Every grant in force, person by person, each revocable here.
export async function grantsScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const rows = await api.grantsByPerson();
  const groups = byPerson(rows);
  area.replaceChildren(el('h1', {}, t(c.lang, 'grants')),
    ...(groups.length === 0 ? [el('p', {}, t(c.lang, 'noGrants'))] : groups.flatMap(([person, held]) => [
      el('h2', {}, `${held[0].name} (${person})`),
      table(`grants-${person}`, ['#', t(c.lang, 'docTitle'), t(c.lang, 'personal'), ''],
        held.map((h) => [String(h.doc_id), h.title_hidden ? t(c.lang, 'labelHidden') : h.title, h.personal_data ? '●' : '',
          button(t(c.lang, 'revoke'), `revoke-${person}-${h.doc_id}`, (b) => c.busy(b, async () => {
            await api.revoke(h.doc_id, person);
            c.go({ screen: 'grants' });
          }), 'danger')])),
    ])));
}
