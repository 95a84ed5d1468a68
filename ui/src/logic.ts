// The page's own logic, kept free of the DOM so Vitest can hold it:
// which screens the signed-in person's allowed actions open, document filters, the audit timeline's
// counts, the idle timer, and small formatting.

import type { AuditRecord, DocumentInfo } from './api';

export type Screen =
  | 'documents' | 'import' | 'grants' | 'accounts' | 'rosters' | 'policy' | 'audit' | 'alerts'
  | 'contractEnd' | 'incidents' | 'statusReport' | 'about';

// The action each screen is for (an audit event name). The page knows no
// roles: the core sends the actions the person may take
// (`permission::allowed`, `Me.allowed`) and a screen shows when its action
// is among them. The core still checks each call.
const SCREENS: Record<Screen, string> = {
  documents: 'document.list',
  import: 'document.import',
  grants: 'document.grants',
  accounts: 'account.list',
  rosters: 'roster.read',
  policy: 'policy.set',
  audit: 'audit.read',
  alerts: 'alert.read',
  contractEnd: 'disposal.read',
  incidents: 'incident.read',
  statusReport: 'report.status',
  about: 'vault.status',
};

export function screensFor(allowed: readonly string[]): Screen[] {
  return (Object.keys(SCREENS) as Screen[]).filter((s) => allowed.includes(SCREENS[s]));
}

/// May the signed-in person take `action` (an audit event name)?
export function may(me: { allowed: readonly string[] }, action: string): boolean {
  return me.allowed.includes(action);
}

export interface DocFilter { text: string; purpose: string; personalOnly: boolean; from: string; to: string }

export function filterDocuments(docs: DocumentInfo[], f: DocFilter): DocumentInfo[] {
  const needle = f.text.trim().toLowerCase();
  return docs.filter((d) => {
    if (needle && !d.title.toLowerCase().includes(needle) && !d.file_name.toLowerCase().includes(needle)) return false;
    if (f.purpose && d.purpose !== f.purpose) return false;
    if (f.personalOnly && !d.personal_data) return false;
    const day = japanDay(d.received_at);
    if (f.from && day < f.from) return false;
    if (f.to && day > f.to) return false;
    return true;
  });
}

/// The distinct cases (purposes) among the documents, for the filter.
/// Grants grouped by person, in the order they came (by person, then
/// document).
export function byPerson<T extends { person: string }>(rows: T[]): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const r of rows) {
    const g = groups.get(r.person) ?? [];
    g.push(r);
    groups.set(r.person, g);
  }
  return [...groups.entries()];
}

export function purposes(docs: DocumentInfo[]): string[] {
  return [...new Set(docs.map((d) => d.purpose))].sort();
}

const JST_MS = 9 * 60 * 60 * 1000;

/// A stored UTC time as Japan's calendar day, YYYY-MM-DD.
export function japanDay(rfc3339: string): string {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return '';
  return new Date(ms + JST_MS).toISOString().slice(0, 10);
}

/// The first and last instants of a Japan day, in UTC with microseconds
/// as the trail stores times (the filter compares them as text).
export function japanDayStart(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00+09:00`)).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
export function japanDayEnd(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00+09:00`) + 24 * 3600 * 1000 - 1).toISOString().replace(/\.(\d{3})Z$/, '.$1999Z');
}

/// A stored UTC time as Japan time, YYYY-MM-DD HH:MM.
export function japanTime(rfc3339: string): string {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return rfc3339;
  return new Date(ms + JST_MS).toISOString().slice(0, 16).replace('T', ' ');
}

/// Events per Japan day, every day of the span present (zero included),
/// and how many of each day's were refused.
export function eventsByDay(records: AuditRecord[]): { day: string; total: number; refused: number }[] {
  if (records.length === 0) return [];
  const counts = new Map<string, { total: number; refused: number }>();
  for (const r of records) {
    const day = japanDay(r.at);
    const c = counts.get(day) ?? { total: 0, refused: 0 };
    c.total += 1;
    if (r.outcome !== 'ok') c.refused += 1;
    counts.set(day, c);
  }
  const days = [...counts.keys()].sort();
  const out = [];
  for (let d = days[0]; d <= days[days.length - 1]; d = nextDay(d)) {
    out.push({ day: d, ...(counts.get(d) ?? { total: 0, refused: 0 }) });
  }
  return out;
}

function nextDay(day: string): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + 24 * 60 * 60 * 1000).toISOString().slice(0, 10);
}

/// Document numbers typed as "1, 2 3"; throws naming the bad part.
export function parseItems(text: string): number[] {
  const parts = text.split(/[\s,、]+/).filter((p) => p !== '');
  return parts.map((p) => {
    if (!/^\d+$/.test(p)) throw new Error(`not a document number: ${p}`);
    return Number(p);
  });
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/// Decode a text document: UTF-8 (with or without BOM), else Shift_JIS,
/// which many Japanese office files still use.
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('shift_jis').decode(bytes);
  }
}

/// The SVG path of a QR code's dark modules (rows of '1' and '0'),
/// drawn with a quiet zone of `margin` modules.
export function qrPath(rows: string[], margin = 4): string {
  const parts: string[] = [];
  rows.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) if (row[x] === '1') parts.push(`M${x + margin} ${y + margin}h1v1h-1z`);
  });
  return parts.join('');
}

/// Counts idle time from the last input; `expired` once the policy's
/// limit has passed. The clock is passed in so tests need no waiting.
/// What the window knows of the open alerts: the newest number it was
/// told of (the next watch asks for those after it) and how many are open
/// (the badge on the alerts button).
export class AlertWatch {
  after = 0;
  open = 0;
  /// Alerts the watch handed over: those not seen before are counted.
  told(ids: readonly number[]): number {
    const fresh = ids.filter((id) => id > this.after);
    this.after = Math.max(this.after, ...ids);
    this.open += fresh.length;
    return fresh.length;
  }
  /// The alerts screen listed every open alert: the badge says that many.
  listed(openIds: readonly number[]): void {
    this.open = openIds.length;
    this.after = Math.max(this.after, ...openIds);
  }
  reset(): void {
    this.after = 0;
    this.open = 0;
  }
}

export class IdleTimer {
  private last: number;
  constructor(private limitMs: number, now: number) { this.last = now; }
  activity(now: number): void { this.last = now; }
  setLimit(ms: number): void { this.limitMs = ms; }
  expired(now: number): boolean { return now - this.last >= this.limitMs; }
}
