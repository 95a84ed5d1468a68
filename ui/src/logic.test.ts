import { describe, expect, it } from 'vitest';
import { AlertWatch, byPerson, decodeText, japanDayEnd, japanDayStart, eventsByDay, filterDocuments, IdleTimer, japanDay, parseItems, qrPath, screensFor } from './logic';
import type { AuditRecord, DocumentInfo } from './api';
import { ALLOWED_BY_ROLE } from './generated/allowed';

// What the core allows each role (generated from permission::allowed).
const actionsOf = (role: string): string[] => ALLOWED_BY_ROLE[role] ?? [];

const doc = (over: Partial<DocumentInfo>): DocumentInfo => ({
  id: 1, title: 'a', file_name: 'a.pdf', origin: 'o', via: 'v', purpose: 'p', personal_data: false,
  size: 1, sha256: '', received_by: 'x', received_at: '2026-11-25T01:00:00Z', label_hidden: false, ...over,
});
const ev = (at: string, outcome = 'ok'): AuditRecord => ({
  seq: 1, at, actor: 'a', event: 'e', object: 'o', outcome, terminal: 't', detail: '', leaf: '',
});

describe('screens', () => {
  it('show each role only its screens, from the actions the core allows it', () => {
    expect(screensFor(actionsOf('sysadmin'))).toEqual(['accounts', 'about']);
    expect(screensFor(actionsOf('auditor'))).toEqual(['audit', 'alerts', 'contractEnd', 'incidents', 'about']);
    expect(screensFor(actionsOf('handler'))).toEqual(['documents', 'about']);
    expect(screensFor(actionsOf('officer'))).toContain('statusReport');
    for (const role of ['officer', 'manager', 'handler', 'sysadmin', 'auditor']) {
      expect(screensFor(actionsOf(role))).toContain('about');
    }
    expect(screensFor(actionsOf('manager'))).not.toContain('accounts');
    expect(screensFor(actionsOf('manager'))).toContain('grants');
    expect(screensFor(actionsOf('handler'))).not.toContain('grants');
    expect(screensFor([])).toEqual([]);
  });
});

describe('document filters', () => {
  const docs = [
    doc({ id: 1, title: '相談記録', purpose: '就労支援', personal_data: true, received_at: '2026-11-24T16:00:00Z' }),
    doc({ id: 2, title: 'Minutes', file_name: 'min.txt', purpose: '研修', received_at: '2026-11-20T01:00:00Z' }),
  ];
  const none = { text: '', purpose: '', personalOnly: false, from: '', to: '' };
  it('search title and file name, case-insensitively', () => {
    expect(filterDocuments(docs, { ...none, text: '相談' }).map((d) => d.id)).toEqual([1]);
    expect(filterDocuments(docs, { ...none, text: 'MIN.TXT' }).map((d) => d.id)).toEqual([2]);
  });
  it('filter by case, personal-data mark and received day in Japan time', () => {
    expect(filterDocuments(docs, { ...none, purpose: '研修' }).map((d) => d.id)).toEqual([2]);
    expect(filterDocuments(docs, { ...none, personalOnly: true }).map((d) => d.id)).toEqual([1]);
    // 16:00 UTC on the 24th is the 25th in Japan.
    expect(filterDocuments(docs, { ...none, from: '2026-11-25' }).map((d) => d.id)).toEqual([1]);
    expect(filterDocuments(docs, { ...none, to: '2026-11-24' }).map((d) => d.id)).toEqual([2]);
  });
});

describe('audit timeline', () => {
  it('counts per Japan day with empty days filled and refusals apart', () => {
    const days = eventsByDay([ev('2026-11-23T23:30:00Z'), ev('2026-11-24T01:00:00Z', 'denied'), ev('2026-11-26T01:00:00Z')]);
    expect(days).toEqual([
      { day: '2026-11-24', total: 2, refused: 1 },
      { day: '2026-11-25', total: 0, refused: 0 },
      { day: '2026-11-26', total: 1, refused: 0 },
    ]);
    expect(eventsByDay([])).toEqual([]);
    expect(japanDay('not a time')).toBe('');
    expect(japanDayStart('2026-11-26')).toBe('2026-11-25T15:00:00.000000Z');
    expect(japanDayEnd('2026-11-26')).toBe('2026-11-26T14:59:59.999999Z');
    // Stored times compare as text inside the day's bounds.
    expect('2026-11-25T15:00:00.000001Z' >= japanDayStart('2026-11-26')).toBe(true);
    expect('2026-11-26T14:59:59.999999Z' <= japanDayEnd('2026-11-26')).toBe(true);
  });
});

describe('grants by person', () => {
  it('group rows by person, keeping their order', () => {
    const rows = [{ person: 'a', doc: 1 }, { person: 'a', doc: 2 }, { person: 'b', doc: 1 }];
    expect(byPerson(rows)).toEqual([['a', [rows[0], rows[1]]], ['b', [rows[2]]]]);
  });
});

describe('small parsers', () => {
  it('read document numbers and name a bad one', () => {
    expect(parseItems('1, 2 3、4')).toEqual([1, 2, 3, 4]);
    expect(parseItems('  ')).toEqual([]);
    expect(() => parseItems('1, x')).toThrow('x');
  });
  it('decode UTF-8 and fall back to Shift_JIS', () => {
    expect(decodeText(new TextEncoder().encode('氏名,住所'))).toBe('氏名,住所');
    // 「日本」 in Shift_JIS.
    expect(decodeText(new Uint8Array([0x93, 0xfa, 0x96, 0x7b]))).toBe('日本');
  });
  it('draw only dark QR modules, offset by the quiet zone', () => {
    expect(qrPath(['10', '01'], 1)).toBe('M1 1h1v1h-1zM2 2h1v1h-1z');
  });
});

describe('idle timer', () => {
  it('expires after the limit without input and restarts on input', () => {
    const t = new IdleTimer(1000, 0);
    expect(t.expired(999)).toBe(false);
    t.activity(900);
    expect(t.expired(1500)).toBe(false);
    expect(t.expired(1900)).toBe(true);
    t.setLimit(5000);
    expect(t.expired(1900)).toBe(false);
  });
});

describe('alert badge', () => {
  it('counts what the watch hands over once, and follows the list', () => {
    const w = new AlertWatch();
    expect(w.told([3, 4])).toBe(2);
    expect([w.after, w.open]).toEqual([4, 2]);
    // Handed over again (a slow answer): not counted twice.
    expect(w.told([4])).toBe(0);
    expect(w.told([])).toBe(0);
    expect(w.told([7])).toBe(1);
    expect(w.open).toBe(3);
    // The screen lists what is open (two were acknowledged meanwhile).
    w.listed([7]);
    expect([w.after, w.open]).toEqual([7, 1]);
    w.listed([]);
    expect(w.open).toBe(0);
    w.reset();
    expect([w.after, w.open]).toEqual([0, 0]);
  });
});
