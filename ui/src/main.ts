// The window's frame: who is signed in, the screens their roles allow,
// the language switch, and the lock. Screens live in ./screens; no rule
// lives in the page, the core checks every call again.

import { listen } from '@tauri-apps/api/event';
import { api, type Me } from './api';
import { button, el } from './dom';
import { explain, roleName, t, type Key, type Lang } from './i18n';
import { AlertWatch, IdleTimer, may, screensFor, type Screen } from './logic';
import { firstRun, lockScreen, pendingStep, signIn } from './screens/start';
import { documentDetail, documentList, grantsScreen, importScreen, leaveImport } from './screens/documents';
import { accountsScreen, policyScreen, rostersScreen } from './screens/people';
import { alertsScreen, auditScreen, incidentsScreen, statusReportScreen } from './screens/oversight';
import { contractEndScreen } from './screens/contract';
import { aboutScreen } from './screens/about';
import type { Ctx, Route, StartCtx } from './ctx';

const app = document.getElementById('app')!;
let lang: Lang = 'ja';
let me: Me | null = null;
let route: Route = { screen: 'documents' };
const idle = new IdleTimer(15 * 60 * 1000, Date.now());
const alertWatch = new AlertWatch();
let lastTouch = 0;

// pdf.js is large: loaded only when a document is first viewed, so the
// window starts fast.
let viewerModule: typeof import('./viewer') | null = null;
async function viewerScreen(c: Ctx, area: HTMLElement, arg?: number): Promise<void> {
  viewerModule ??= await import('./viewer');
  await viewerModule.viewerScreen(c, area, arg);
}
function closeViewer(): void {
  viewerModule?.closeViewer();
  leaveImport();
}

const SCREENS: Record<Route['screen'], (ctx: Ctx, area: HTMLElement, arg?: number) => Promise<void>> = {
  documents: documentList,
  import: importScreen,
  grants: grantsScreen,
  document: documentDetail,
  viewer: viewerScreen,
  accounts: accountsScreen,
  rosters: rostersScreen,
  policy: policyScreen,
  audit: auditScreen,
  alerts: alertsScreen,
  contractEnd: contractEndScreen,
  incidents: incidentsScreen,
  statusReport: statusReportScreen,
  about: aboutScreen,
};

function message(kind: 'ok' | 'error', ...lines: string[]): void {
  const box = document.getElementById('message');
  if (!box) return;
  box.className = kind;
  box.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  box.replaceChildren(...lines.map((l, i) => el(i === 0 ? 'p' : 'small', {}, l)));
}

function fail(e: unknown): void {
  const code = (e as { code?: string })?.code;
  if (code === 'not_signed_in' || code === 'locked') {
    // The session ended elsewhere (a newer sign-in, a suspension, a
    // password change): the lock screen says why.
    if (me) void showLock().then(() => {
      if (code === 'not_signed_in') {
        const { sentence, detail } = explain(lang, e);
        message('error', sentence, detail);
      }
    });
    return;
  }
  const { sentence, detail } = explain(lang, e);
  message('error', sentence, detail);
}

function ctx(): Ctx {
  return {
    lang,
    me: me!,
    go: (r) => void render(r),
    fail,
    ok: (text) => message('ok', text),
    setIdleMinutes: (minutes) => {
      idle.setLimit(minutes * 60 * 1000);
      if (me) me.idle_minutes = minutes;
    },
    alertsListed: (openIds) => {
      alertWatch.listed(openIds);
      showAlertBadge();
    },
    busy: async (b, work) => {
      b.disabled = true;
      try {
        await work();
      } catch (e) {
        fail(e);
      } finally {
        b.disabled = false;
      }
    },
  };
}

function langButton(then: () => void): HTMLElement {
  return button(t(lang, 'language'), 'lang', () => {
    lang = lang === 'ja' ? 'en' : 'ja';
    document.documentElement.lang = lang;
    then();
  }, 'quiet');
}

/// The frame around a screen: header, navigation, message line.
function frame(active: Route['screen']): HTMLElement {
  const nav = el('nav', {}, ...screensFor(me!.allowed).map((s) => {
    const b = button(t(lang, s as Key), `nav-${s}`, () => void render({ screen: s }), s === active ? 'active' : '');
    return b;
  }));
  const area = el('section', { id: 'screen' });
  const header = el('header', {},
    el('strong', {}, t(lang, 'title')),
    el('span', { id: 'who' }, `${me!.name} (${me!.id}) — ${me!.roles.map((r) => roleName(lang, r)).join('・')}`),
    langButton(() => void render(route)),
    button(t(lang, 'lockedNow'), 'lock', () => void lockNow(), 'quiet'),
    button(t(lang, 'signOut'), 'signout', async () => {
      closeViewer();
      await api.signOut().catch(() => undefined);
      me = null;
      route = { screen: 'documents' };
      signIn(startCtx());
    }, 'quiet'));
  const notices = me!.notices.map((n) => el('p', { class: 'notice' }, n));
  app.replaceChildren(header, nav, el('div', { id: 'message' }), ...notices, area);
  showAlertBadge();
  return area;
}

/// The number of open alerts on the alerts button (A5: the officer and
/// the auditor see at once that something waits).
function showAlertBadge(): void {
  const nav = document.getElementById('nav-alerts');
  if (!nav) return;
  document.getElementById('alert-badge')?.remove();
  if (alertWatch.open > 0) {
    nav.append(el('span', { id: 'alert-badge', class: 'badge', 'aria-label': t(lang, 'openAlerts') },
      String(alertWatch.open)));
  }
}

/// Ask for alerts raised since the last one seen (at sign-in: every open
/// one). The shell tells the desktop of new ones; this updates the badge.
/// A watch is no activity: the window still locks when nobody is there.
async function watchAlerts(): Promise<void> {
  if (!me || me.pending || !may(me, 'alert.read') || document.getElementById('lock-screen')) return;
  try {
    const fresh = await api.watchAlerts(alertWatch.after);
    if (alertWatch.told(fresh.map((a) => a.id)) > 0) showAlertBadge();
  } catch {
    // A lock or an ended session is shown by the status check.
  }
}

async function render(r: Route): Promise<void> {
  if (!me) return;
  closeViewer();
  if (me.pending) {
    pendingStep(startCtx(), me);
    return;
  }
  const allowed = screensFor(me.allowed);
  if (r.screen !== 'document' && r.screen !== 'viewer' && !allowed.includes(r.screen)) {
    r = { screen: allowed[0] ?? 'documents' };
  }
  route = r;
  const area = frame(r.screen === 'document' || r.screen === 'viewer' ? 'documents' : r.screen);
  if (allowed.length === 0) return;
  try {
    await SCREENS[r.screen](ctx(), area, r.arg);
  } catch (e) {
    fail(e);
  }
}

async function lockNow(): Promise<void> {
  await api.lock().catch(() => undefined);
  await showLock();
}

/// The lock screen: everything on screen is dropped (the viewer's pages
/// with it); signing in again returns to the same place.
async function showLock(): Promise<void> {
  closeViewer();
  const who = me;
  // Shown once: a late refusal of an action the lock ended must not
  // redraw the form under the person typing their password.
  if (!who || document.getElementById('lock-screen')) return;
  lockScreen(startCtx(), who.id, (again) => {
    if (again.id !== who.id) route = { screen: 'documents' };
    me = again;
    idle.setLimit(again.idle_minutes * 60 * 1000);
    idle.activity(Date.now());
    void render(route).then(watchAlerts);
  });
}

function startCtx(): StartCtx {
  return {
    lang,
    langButton: (then) => langButton(then),
    show: (...nodes) => app.replaceChildren(el('div', { id: 'message' }), ...nodes),
    signedIn: (who) => {
      // A sign-in starts at the person's first screen; only unlocking
      // returns to where the window was.
      if (!me || me.id !== who.id) route = { screen: 'documents' };
      if (!me || me.id !== who.id) alertWatch.reset();
      me = who;
      idle.setLimit(who.idle_minutes * 60 * 1000);
      idle.activity(Date.now());
      void render(route).then(watchAlerts);
    },
    fail: (e) => {
      const { sentence, detail } = explain(lang, e);
      message('error', sentence, detail);
    },
    restart: () => void start(),
    switchUser: () => {
      me = null;
      route = { screen: 'documents' };
      signIn(startCtx());
    },
  };
}

async function start(): Promise<void> {
  try {
    const status = await api.status();
    if (status.problem) {
      app.replaceChildren(el('h1', {}, t(lang, 'problem')), el('p', { class: 'error' }, status.problem));
      return;
    }
    if (!status.exists) {
      firstRun(startCtx(), status.vault);
      return;
    }
    if (status.me) startCtx().signedIn(status.me);
    else signIn(startCtx());
  } catch (e) {
    app.replaceChildren(el('p', { class: 'error' }, explain(lang, e).detail));
  }
}

// Input keeps the session alive (at most one call a minute); no input for
// the policy's idle time locks. The shell locks on its own too and says
// so at once (`kinko://locked`); a status check every 15 s is the
// fallback.
for (const ev of ['keydown', 'mousedown', 'mousemove', 'wheel', 'touchstart']) {
  window.addEventListener(ev, () => {
    const now = Date.now();
    idle.activity(now);
    if (me && now - lastTouch > Math.min(60_000, (me.idle_minutes * 60_000) / 4)) {
      lastTouch = now;
      void api.touch().catch(() => undefined);
    }
  }, { passive: true });
}
setInterval(() => {
  if (me && !document.getElementById('lock-screen') && idle.expired(Date.now())) void lockNow();
}, 5_000);
setInterval(() => void watchAlerts(), 10_000);
setInterval(() => {
  if (!me || document.getElementById('lock-screen')) return;
  void api.status().then((s) => {
    if (!s.me) void showLock();
  }).catch(() => undefined);
}, 15_000);
void listen('kinko://locked', () => {
  // The keys are gone: nothing decrypted stays on screen a moment longer.
  closeViewer();
  if (me) void showLock();
});

// What a browser offers on shown content and Kinko does not: no context
// menu (the shell refuses it too), no dragging images or pages out, no
// copying from the viewer. Exports go through the export rules only.
window.addEventListener('contextmenu', (e) => e.preventDefault(), { capture: true });
window.addEventListener('dragstart', (e) => {
  if (!(e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement)) e.preventDefault();
}, { capture: true });
for (const ev of ['copy', 'cut'] as const) {
  window.addEventListener(ev, (e) => {
    if (document.getElementById('viewer-pages')) e.preventDefault();
  }, { capture: true });
}

void start();
