// Oversight: the audit trail (a timeline of events per day, filters, the
// verify button, signed checkpoints), alerts with acknowledgement, the
// incident register, and the monthly status report.

import { api, type LogFilter } from '../api';
import { button, checkbox, el, field, input, table } from '../dom';
import { choice } from '../choice';
import { t } from '../i18n';
import { eventsByDay, japanDay, japanDayEnd, japanDayStart, japanTime, may } from '../logic';
import type { Ctx } from '../ctx';

const SVG = 'http://www.w3.org/2000/svg';

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/// Bars per day: all events, refused ones in red over them.
function timeline(days: { day: string; total: number; refused: number }[]): Element {
  const w = 900, h = 160, pad = 24;
  const max = Math.max(1, ...days.map((d) => d.total));
  const bw = days.length > 0 ? Math.min(48, (w - pad) / days.length) : 0;
  const chart = svg('svg', { id: 'audit-chart', viewBox: `0 0 ${w} ${h + 20}`, class: 'chart', role: 'img' });
  days.forEach((d, i) => {
    const x = pad + i * bw;
    const bh = (d.total / max) * h;
    const rh = (d.refused / max) * h;
    const bar = svg('rect', { x, y: h - bh, width: Math.max(1, bw - 2), height: bh, class: 'bar' });
    const title = svg('title', {});
    title.textContent = `${d.day}: ${d.total} (${d.refused})`;
    bar.append(title);
    chart.append(bar, svg('rect', { x, y: h - rh, width: Math.max(1, bw - 2), height: rh, class: 'bar refused' }));
  });
  const axis = svg('text', { x: pad, y: h + 16, class: 'axis' });
  axis.textContent = days.length > 0 ? `${days[0].day} … ${days[days.length - 1].day}  (max ${max})` : '';
  chart.append(axis);
  return chart;
}

export async function auditScreen(c: Ctx, area: HTMLElement, _arg?: number, filter: LogFilter = {}): Promise<void> {
  const records = await api.auditLog(filter);
  const since = input('audit-since', { type: 'date' });
  const until = input('audit-until', { type: 'date' });
  const actor = input('audit-actor');
  const event = input('audit-event');
  since.value = filter.since ? japanDay(filter.since) : '';
  until.value = filter.until ? japanDay(filter.until) : '';
  actor.value = filter.actor ?? '';
  event.value = filter.event ?? '';
  const folder = choice(c, 'checkpoint-folder', 'folder');
  const result = el('p', { id: 'verify-result' });
  const newest = records.slice(-500).reverse();
  area.replaceChildren(el('h1', {}, t(c.lang, 'audit')),
    el('div', { class: 'row' },
      button(t(c.lang, 'verify'), 'audit-verify', (b) => c.busy(b, async () => {
        const r = await api.auditVerify();
        result.textContent = `✔ ${t(c.lang, 'verified')} ${r.events} / root ${r.root.slice(0, 16)}…`;
        result.className = 'ok';
      })), result),
    folder.element,
    button(t(c.lang, 'checkpointExport'), 'checkpoint-save', (b) => c.busy(b, async () => {
      const s = await api.auditCheckpoint(folder.take());
      c.ok(`${t(c.lang, 'saved')}: ${s.paths.join(', ')}`);
    }), 'quiet'),
    el('h2', {}, t(c.lang, 'timeline')),
    timeline(eventsByDay(records)) as unknown as HTMLElement,
    el('div', { class: 'filters' }, field(t(c.lang, 'since'), since), field(t(c.lang, 'until'), until),
      field(t(c.lang, 'actor'), actor), field(t(c.lang, 'event'), event),
      button(t(c.lang, 'filter'), 'audit-filter', () => void auditScreen(c, area, undefined, {
        since: since.value ? japanDayStart(since.value) : undefined,
        until: until.value ? japanDayEnd(until.value) : undefined,
        actor: actor.value || undefined, event: event.value || undefined,
      }).catch(c.fail))),
    table('audit-log', ['#', t(c.lang, 'at'), t(c.lang, 'actor'), t(c.lang, 'event'), t(c.lang, 'object'), t(c.lang, 'outcome'), t(c.lang, 'detail')],
      newest.map((r) => [String(r.seq), japanTime(r.at), r.actor, r.event, r.object, r.outcome, r.detail])));
}

export async function alertsScreen(c: Ctx, area: HTMLElement, _arg?: number, all = false): Promise<void> {
  const alerts = await api.alerts(all);
  c.alertsListed(alerts.filter((a) => !a.acked_by).map((a) => a.id));
  const mayAck = may(c.me, 'alert.ack');
  const showAll = checkbox('alerts-all', all);
  showAll.addEventListener('change', () => void alertsScreen(c, area, undefined, showAll.checked).catch(c.fail));
  area.replaceChildren(el('h1', {}, t(c.lang, 'alerts')),
    el('label', { class: 'check' }, showAll, t(c.lang, 'showAll')),
    alerts.length === 0 ? el('p', { id: 'no-alerts' }, t(c.lang, 'noAlerts')) :
      table('alerts', ['#', t(c.lang, 'at'), t(c.lang, 'rule'), t(c.lang, 'actor'), t(c.lang, 'summary'), t(c.lang, 'ackedBy'), ''],
        alerts.map((a) => {
          const note = input(`ack-note-${a.id}`, { placeholder: t(c.lang, 'note') });
          return [String(a.id), japanTime(a.at), a.rule, a.actor, a.summary,
            a.acked_by ? `${a.acked_by} ${japanTime(a.acked_at ?? '')} ${a.ack_note ?? ''}` : '',
            !a.acked_by && mayAck ? el('span', {}, note, button(t(c.lang, 'ack'), `ack-${a.id}`, (b) => c.busy(b, async () => {
              await api.alertAck(a.id, note.value);
              await alertsScreen(c, area, undefined, all);
            }))) : ''];
        })));
}

export async function incidentsScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const list = await api.incidents(true);
  const records = may(c.me, 'incident.record');
  const fields: [string, HTMLInputElement | HTMLTextAreaElement][] = [
    ['detected_at', input('incident-detected')], ['summary', input('incident-summary')],
    ['items', input('incident-items')], ['actions', el('textarea', { id: 'incident-actions' }) as HTMLTextAreaElement],
    ['improvement', el('textarea', { id: 'incident-improvement' }) as HTMLTextAreaElement],
    ['reported_at', input('incident-reported')],
  ];
  const labels: Record<string, Parameters<typeof t>[1]> = {
    detected_at: 'detectedAt', summary: 'summary', items: 'affected', actions: 'actions', improvement: 'improvement', reported_at: 'reportedAt',
  };
  const form = () => Object.fromEntries(fields.map(([k, f]) => [k, f.value]));
  area.replaceChildren(el('h1', {}, t(c.lang, 'incidents')),
    table('incidents', ['#', t(c.lang, 'detectedAt'), t(c.lang, 'summary'), t(c.lang, 'actions'), t(c.lang, 'reportedAt'), t(c.lang, 'status'), ''],
      list.map((i) => [String(i.id), japanTime(i.detected_at), i.summary, i.actions, i.reported_at ? japanTime(i.reported_at) : '—',
        i.closed_at ? `${t(c.lang, 'closed')} (${i.closed_by})` : t(c.lang, 'open_'),
        records && !i.closed_at ? el('span', {},
          button(t(c.lang, 'update'), `incident-update-${i.id}`, (b) => c.busy(b, async () => {
            await api.incidentUpdate(i.id, form());
            c.go({ screen: 'incidents' });
          }), 'quiet'),
          button(t(c.lang, 'closeIncident'), `incident-close-${i.id}`, (b) => c.busy(b, async () => {
            await api.incidentClose(i.id, (fields[3][1].value || '').trim() || '—');
            c.go({ screen: 'incidents' });
          }), 'quiet')) : ''])));
  if (records) {
    area.append(el('h2', {}, t(c.lang, 'record')),
      el('div', { class: 'grid' }, ...fields.map(([k, f]) => field(t(c.lang, labels[k]), f))),
      button(t(c.lang, 'record'), 'incident-add', (b) => c.busy(b, async () => {
        const id = await api.incidentAdd(form());
        c.ok(`#${id}`);
        c.go({ screen: 'incidents' });
      })));
  }
}

export async function statusReportScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const month = input('report-month', { placeholder: 'YYYY-MM' });
  month.value = new Date(Date.now() + 9 * 3600 * 1000).toISOString().slice(0, 7);
  const folder = choice(c, 'report-folder', 'folder');
  area.replaceChildren(el('h1', {}, t(c.lang, 'statusReport')),
    field(t(c.lang, 'month'), month), folder.element,
    button(t(c.lang, 'makeReport'), 'report-make', (b) => c.busy(b, async () => {
      const s = await api.statusReport(month.value, folder.take());
      c.ok(`${t(c.lang, 'saved')}: ${s.paths.join(', ')}`);
    })));
}
