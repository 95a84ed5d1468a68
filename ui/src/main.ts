// The page: screens built from the core's answers. No rule lives here;
// every command is checked again by the core.

import { invoke } from '@tauri-apps/api/core';
import { el } from './dom';
import { t, type Lang } from './i18n';

interface AppStatus { vault: string; exists: boolean; signed_in: string | null }
interface DocumentInfo { id: number; title: string; received_at: string; personal_data: boolean }
interface CommandError { code: string; message: string }

let lang: Lang = 'ja';
const app = document.getElementById('app')!;

function show(...nodes: HTMLElement[]): void {
  app.replaceChildren(...nodes);
}

function message(e: unknown): string {
  const err = e as CommandError;
  return err && typeof err.message === 'string' ? err.message : String(e);
}

function langButton(then: () => void): HTMLElement {
  const b = el('button', { type: 'button', id: 'lang' }, t(lang, 'language'));
  b.addEventListener('click', () => {
    lang = lang === 'ja' ? 'en' : 'ja';
    document.documentElement.lang = lang;
    then();
  });
  return b;
}

async function start(): Promise<void> {
  const status = await invoke<AppStatus>('app_status');
  if (!status.exists) {
    show(el('h1', {}, t(lang, 'title')), el('p', { class: 'error' }, `${t(lang, 'noVault')}: ${status.vault}`));
    return;
  }
  if (status.signed_in) await documents();
  else signIn();
}

function signIn(error = ''): void {
  const id = el('input', { id: 'user', autocomplete: 'username' }) as HTMLInputElement;
  const pw = el('input', { id: 'password', type: 'password', autocomplete: 'current-password' }) as HTMLInputElement;
  const code = el('input', { id: 'totp', inputmode: 'numeric', autocomplete: 'one-time-code' }) as HTMLInputElement;
  const form = el('form', { id: 'signin' },
    el('label', { for: 'user' }, t(lang, 'id')), id,
    el('label', { for: 'password' }, t(lang, 'password')), pw,
    el('label', { for: 'totp' }, t(lang, 'totp')), code,
    el('div', {}, el('button', { type: 'submit', id: 'signin-button' }, t(lang, 'signIn'))),
    el('p', { class: 'error', id: 'error' }, error));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await invoke<string>('sign_in', { id: id.value, password: pw.value, totp: code.value || null });
      pw.value = '';
      await documents();
    } catch (e) {
      pw.value = '';
      signIn(message(e));
    }
  });
  show(el('h1', {}, t(lang, 'signIn')), form, langButton(() => signIn(error)));
}

async function documents(): Promise<void> {
  let docs: DocumentInfo[] = [];
  try {
    docs = await invoke<DocumentInfo[]>('list_documents');
  } catch (e) {
    signIn(message(e));
    return;
  }
  const rows = docs.map((d) =>
    el('tr', {}, el('td', {}, String(d.id)), el('td', {}, d.title), el('td', {}, d.received_at),
      el('td', {}, d.personal_data ? '✓' : '')));
  const table = el('table', { id: 'documents' },
    el('tr', {}, el('th', {}, '#'), el('th', {}, t(lang, 'docTitle')), el('th', {}, t(lang, 'received')),
      el('th', {}, t(lang, 'personal'))), ...rows);
  const out = el('button', { type: 'button', id: 'signout' }, t(lang, 'signOut'));
  out.addEventListener('click', async () => {
    await invoke('sign_out');
    signIn();
  });
  show(el('h1', {}, t(lang, 'documents')), table, out, langButton(() => void documents()));
}

void start();
