// First run, sign-in, the lock screen, and the steps a new person is led
// through: a new password, then a one-time-code enrolment with a QR code.

import { api, type Me, type UpgradeReport } from '../api';
import { button, el, field, input } from '../dom';
import { t } from '../i18n';
import { qrPath } from '../logic';
import type { StartCtx } from '../ctx';

const SVG = 'http://www.w3.org/2000/svg';

function form(id: string, onSubmit: (b: HTMLButtonElement) => Promise<void>, submitText: string,
  ...fields: HTMLElement[]): HTMLElement {
  const submit = el('button', { type: 'submit', id: `${id}-submit` }, submitText) as HTMLButtonElement;
  const f = el('form', { id }, ...fields, el('div', {}, submit));
  f.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    void onSubmit(submit).finally(() => { submit.disabled = false; });
  });
  return f;
}

/// Where the vault is: the office server this PC is connected to, or a
/// button to connect it (the connection setting).
function place(c: StartCtx, redo: () => void): HTMLElement {
  const line = el('p', { id: 'connection', class: 'hint' });
  void api.connection().then((conn) => {
    if (conn.local_vault) {
      // A vault folder on this PC: the app works on it and offers no
      // connection (connecting would hide it).
      line.replaceChildren();
    } else if (conn.server) {
      line.replaceChildren(`${t(c.lang, 'connectedTo')}: `, el('span', { id: 'connected-server' }, conn.server),
        ` (${conn.terminal ?? ''})`);
    } else {
      line.replaceChildren(button(t(c.lang, 'toConnect'), 'to-connect', () => connectForm(c, redo), 'quiet'));
    }
  }).catch(() => undefined);
  return line;
}

/// The connection setting: this PC enrolled with an office server.
function connectForm(c: StartCtx, back: () => void): void {
  const url = input('server-url', { autocomplete: 'off', spellcheck: 'false', placeholder: 'https://kinko.office.lan:8443' });
  const fingerprint = input('server-fingerprint', { autocomplete: 'off', spellcheck: 'false' });
  const token = input('server-token', { autocomplete: 'off', spellcheck: 'false' });
  c.show(el('div', { id: 'connect' },
    el('h1', {}, t(c.lang, 'connectTitle')),
    el('p', {}, t(c.lang, 'connectIntro')),
    form('connect-form', async () => {
      try {
        const conn = await api.connect(url.value, fingerprint.value, token.value.trim() || null);
        token.value = '';
        if (conn.server) c.restart();
        else waitingForApproval(c, conn.waiting ?? '');
      } catch (e) {
        c.fail(e);
      }
    }, t(c.lang, 'connect'),
    field(t(c.lang, 'serverUrl'), url), field(t(c.lang, 'caFingerprint'), fingerprint),
    field(t(c.lang, 'enrolToken'), token)),
    button(t(c.lang, 'back'), 'connect-back', back, 'quiet')));
}

function waitingForApproval(c: StartCtx, code: string): void {
  c.show(el('div', { id: 'connect-waiting' },
    el('h1', {}, t(c.lang, 'connectTitle')),
    el('p', {}, `${t(c.lang, 'connectWaiting')} `, el('span', { id: 'approval-code', class: 'secret' }, code)),
    button(t(c.lang, 'checkAgain'), 'connect-check', async () => {
      try {
        const conn = await api.connectCollect();
        if (conn.server) c.restart();
      } catch (e) {
        c.fail(e);
      }
    })));
}

export function firstRun(c: StartCtx, vault: string): void {
  const council = input('council');
  const id = input('officer-id', { autocomplete: 'username' });
  const name = input('officer-name');
  const pw = input('new-password', { type: 'password', autocomplete: 'new-password' });
  const pw2 = input('new-password-2', { type: 'password', autocomplete: 'new-password' });
  c.show(
    el('h1', {}, t(c.lang, 'firstRun')),
    el('p', {}, t(c.lang, 'firstRunIntro')),
    el('p', { class: 'path' }, vault),
    form('first-run', async () => {
      if (pw.value !== pw2.value) {
        c.fail({ code: 'invalid', message: t(c.lang, 'passwordsDiffer') });
        return;
      }
      try {
        const made = await api.createVault({ officer_id: id.value, officer_name: name.value, council: council.value, password: pw.value });
        pw.value = pw2.value = '';
        recoveryCode(c, made.recovery_code);
      } catch (e) {
        c.fail(e);
      }
    }, t(c.lang, 'create'),
    field(t(c.lang, 'council'), council), field(t(c.lang, 'officerId'), id), field(t(c.lang, 'officerName'), name),
    field(t(c.lang, 'newPassword'), pw), field(t(c.lang, 'repeatPassword'), pw2)),
    place(c, () => firstRun(c, vault)),
    c.langButton(() => firstRun({ ...c, lang: c.lang === 'ja' ? 'en' : 'ja' }, vault)));
}

function recoveryCode(c: StartCtx, code: string): void {
  c.show(
    el('h1', {}, t(c.lang, 'recoveryTitle')),
    el('p', {}, t(c.lang, 'recoveryIntro')),
    el('p', { id: 'recovery-code', class: 'secret' }, code),
    button(t(c.lang, 'recoveryDone'), 'recovery-done', () => c.restart()));
}

function signInForm(c: StartCtx, id: string, fixedId: boolean, done: (who: Me) => void): HTMLElement {
  const user = input('user', { autocomplete: 'username' });
  user.value = id;
  if (fixedId) user.readOnly = true;
  const pw = input('password', { type: 'password', autocomplete: 'current-password' });
  const code = input('totp', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6' });
  // A token's PIN, asked only where this terminal offers a token.
  const pin = input('token-pin', { type: 'password', autocomplete: 'off' });
  const pinField = field(t(c.lang, 'tokenPin'), pin);
  pinField.hidden = true;
  void api.status().then((s) => { pinField.hidden = !s.token; }).catch(() => undefined);
  return form('signin', async () => {
    try {
      const who = await api.signIn(user.value, pw.value, code.value.trim() || null, pin.value || null);
      pw.value = '';
      pin.value = '';
      done(who);
    } catch (e) {
      pw.value = '';
      pin.value = '';
      code.value = '';
      if ((e as { code?: string }).code === 'needs_upgrade') upgradeVault(c, user.value);
      c.fail(e);
    }
  }, t(c.lang, 'signIn'),
  field(t(c.lang, 'id'), user), field(t(c.lang, 'password'), pw), field(t(c.lang, 'totp'), code), pinField,
  el('p', { class: 'hint' }, t(c.lang, 'totpHint')));
}

export function signIn(c: StartCtx): void {
  c.show(el('h1', {}, t(c.lang, 'signIn')), signInForm(c, '', false, (who) => c.signedIn(who)),
    place(c, () => signIn(c)),
    c.langButton(() => signIn({ ...c, lang: c.lang === 'ja' ? 'en' : 'ja' })));
}

/// A vault an earlier release made: the officer upgrades it here, once,
/// with the recovery code (the core refuses anyone else).
function upgradeVault(c: StartCtx, id: string): void {
  const user = input('upgrade-user', { autocomplete: 'username' });
  user.value = id;
  const pw = input('upgrade-password', { type: 'password', autocomplete: 'current-password' });
  const code = input('upgrade-totp', { inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: '6' });
  const recovery = input('upgrade-recovery-code', { autocomplete: 'off', spellcheck: 'false' });
  c.show(el('div', { id: 'upgrade' },
    el('h1', {}, t(c.lang, 'upgradeTitle')),
    el('p', {}, t(c.lang, 'upgradeIntro')),
    form('upgrade-form', async () => {
      try {
        const done = await api.upgradeVault(user.value, pw.value, code.value.trim() || null, recovery.value);
        pw.value = recovery.value = '';
        upgraded(c, done);
      } catch (e) {
        pw.value = '';
        code.value = '';
        c.fail(e);
      }
    }, t(c.lang, 'upgrade'),
    field(t(c.lang, 'id'), user), field(t(c.lang, 'password'), pw), field(t(c.lang, 'totp'), code),
    field(t(c.lang, 'recoveryCodeField'), recovery)),
    button(t(c.lang, 'toSignIn'), 'upgrade-back', () => c.switchUser(), 'quiet')));
}

function upgraded(c: StartCtx, done: UpgradeReport): void {
  const list = (items: string[]): string => (items.length ? items.join(', ') : '-');
  c.show(el('div', { id: 'upgraded' },
    el('h1', {}, t(c.lang, 'upgradedTitle')),
    el('p', {}, `${t(c.lang, 'upgradedAwaiting')}: `, el('span', { id: 'upgraded-awaiting' }, list(done.awaiting_certification))),
    el('p', {}, `${t(c.lang, 'upgradedSetAside')}: `, el('span', { id: 'upgraded-set-aside' }, String(done.set_aside))),
    el('p', {}, `${t(c.lang, 'upgradedUnsigned')}: `, el('span', { id: 'upgraded-unsigned' }, list(done.unsigned))),
    button(t(c.lang, 'toSignIn'), 'upgraded-signin', () => c.switchUser())));
}

export function lockScreen(c: StartCtx, id: string, unlocked: (who: Me) => void): void {
  c.show(el('div', { id: 'lock-screen' },
    el('h1', {}, `🔒 ${t(c.lang, 'locked')}`),
    el('p', {}, t(c.lang, 'lockedIntro')),
    signInForm(c, id, true, unlocked),
    button(t(c.lang, 'otherUser'), 'switch-user', () => c.switchUser(), 'quiet')));
}

/// A restricted person's one next step, before any screen.
export function pendingStep(c: StartCtx, me: Me): void {
  if (me.pending === 'change_password') changePassword(c);
  else if (me.pending === 'enrol_totp') void enrolTotp(c);
  else if (me.pending === 'enrol_token') tokenNeeded(c);
  else awaitingCertification(c, me);
}

/// The policy asks for a token bound to the keyslot: where this terminal
/// offers one, bind it here (password again and the token's PIN); else
/// say how the terminal is set up.
function tokenNeeded(c: StartCtx): void {
  const pw = input('token-password', { type: 'password', autocomplete: 'current-password' });
  const pin = input('token-enrol-pin', { type: 'password', autocomplete: 'off' });
  const enrol = form('token-enrol', async () => {
    try {
      const who = await api.tokenEnrol(pw.value, pin.value);
      c.signedIn(who);
    } catch (e) {
      c.fail(e);
    } finally {
      pw.value = '';
      pin.value = '';
    }
  }, t(c.lang, 'tokenBind'), field(t(c.lang, 'password'), pw), field(t(c.lang, 'tokenPin'), pin));
  enrol.hidden = true;
  const setup = el('p', { class: 'hint' }, t(c.lang, 'tokenSetup'));
  void api.status().then((s) => { enrol.hidden = !s.token; setup.hidden = s.token; }).catch(() => undefined);
  c.show(el('div', { id: 'token-needed' },
    el('h1', {}, t(c.lang, 'tokenTitle')),
    el('p', {}, t(c.lang, 'tokenIntro')),
    enrol, setup,
    button(t(c.lang, 'signOut'), 'pending-signout', async () => {
      await api.signOut().catch(() => undefined);
      c.switchUser();
    }, 'quiet')));
}

/// Keys made, not yet vouched for: the fingerprint the officer compares.
function awaitingCertification(c: StartCtx, me: Me): void {
  c.show(el('div', { id: 'awaiting-certification' },
    el('h1', {}, t(c.lang, 'awaitingTitle')),
    el('p', {}, t(c.lang, 'awaitingIntro')),
    el('p', {}, `${t(c.lang, 'keyFingerprint')}: `, el('code', { id: 'key-fingerprint', class: 'secret' }, me.key_fingerprint)),
    button(t(c.lang, 'signOut'), 'pending-signout', async () => {
      await api.signOut().catch(() => undefined);
      c.switchUser();
    }, 'quiet')));
}

function changePassword(c: StartCtx): void {
  const pw = input('new-password', { type: 'password', autocomplete: 'new-password' });
  const pw2 = input('new-password-2', { type: 'password', autocomplete: 'new-password' });
  c.show(el('h1', {}, t(c.lang, 'newPassword')), el('p', {}, t(c.lang, 'mustChange')),
    form('change-password', async () => {
      if (pw.value !== pw2.value) {
        c.fail({ code: 'invalid', message: t(c.lang, 'passwordsDiffer') });
        return;
      }
      try {
        const who = await api.changePassword(pw.value);
        pw.value = pw2.value = '';
        c.signedIn(who);
      } catch (e) {
        c.fail(e);
      }
    }, t(c.lang, 'change'), field(t(c.lang, 'newPassword'), pw), field(t(c.lang, 'repeatPassword'), pw2)));
}

async function enrolTotp(c: StartCtx): Promise<void> {
  let enrolment;
  try {
    enrolment = await api.totpEnroll();
  } catch (e) {
    c.fail(e);
    return;
  }
  const size = enrolment.qr.length + 8;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('id', 'totp-qr');
  svg.setAttribute('class', 'qr');
  const bg = document.createElementNS(SVG, 'rect');
  bg.setAttribute('width', String(size));
  bg.setAttribute('height', String(size));
  bg.setAttribute('fill', '#fff');
  const path = document.createElementNS(SVG, 'path');
  path.setAttribute('d', qrPath(enrolment.qr));
  path.setAttribute('fill', '#000');
  svg.append(bg, path);
  const code = input('totp-code', { inputmode: 'numeric', maxlength: '6' });
  c.show(el('h1', {}, t(c.lang, 'enrolTitle')), el('p', {}, t(c.lang, 'enrolIntro')),
    svg as unknown as HTMLElement,
    el('p', {}, `${t(c.lang, 'secret')}: `, el('code', { id: 'totp-secret' }, enrolment.secret)),
    form('totp-enrol', async () => {
      try {
        c.signedIn(await api.totpConfirm(code.value.trim()));
      } catch (e) {
        c.fail(e);
      }
    }, t(c.lang, 'confirm'), field(t(c.lang, 'totp'), code)));
}
