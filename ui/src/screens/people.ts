// Accounts (the system administrator), the two rosters with pending
// requests and the bureau's approvals, and the policy.

import { api } from '../api';
import { button, el, field, input, select, table } from '../dom';
import { roleName, t } from '../i18n';
import { japanTime, may } from '../logic';
import type { Ctx } from '../ctx';
import type { Account } from '../api';

export async function accountsScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const accounts = await api.accounts();
  const id = input('account-id');
  const name = input('account-name');
  const roles = select('account-roles', ['handler', 'manager', 'auditor', 'sysadmin', 'officer'].map((r): [string, string] => [r, roleName(c.lang, r)]));
  const issued = el('div', { id: 'issued' });
  const show = (r: { id: string; initial_password: string }) =>
    issued.replaceChildren(el('p', {}, t(c.lang, 'initialPassword')), el('p', { class: 'secret', id: 'initial-password' }, `${r.id}: ${r.initial_password}`));
  const refresh = () => c.go({ screen: 'accounts' });
  const act = (a: string, what: 'suspend' | 'resume' | 'disable' | 'unlock', label: string) =>
    button(label, `${what}-${a}`, (b) => c.busy(b, async () => { await api.lifecycle(a, what); refresh(); }), what === 'disable' ? 'danger' : 'quiet');
  const certifies = may(c.me, 'account.certify');
  // The officer types the fingerprint the person's own screen shows: the
  // core compares it with the keys on the account before it signs.
  const certification = (a: Account): HTMLElement => {
    if (a.certification === 'certified') return el('span', { id: `cert-${a.id}` }, t(c.lang, 'certified'));
    if (a.certification === 'awaiting_person' || !certifies) {
      return el('span', { id: `cert-${a.id}` }, t(c.lang, a.certification === 'awaiting_person' ? 'awaitingPerson' : 'awaitingOfficer'));
    }
    const fp = input(`certify-fp-${a.id}`, { placeholder: t(c.lang, 'fingerprintOnScreen'), 'aria-label': t(c.lang, 'fingerprintOnScreen') });
    return el('span', { id: `cert-${a.id}` }, t(c.lang, 'awaitingOfficer'), ' ', fp,
      button(t(c.lang, 'certify'), `certify-${a.id}`, (b) => c.busy(b, async () => {
        await api.certifyAccount(a.id, fp.value);
        refresh();
      })));
  };
  area.replaceChildren(el('h1', {}, t(c.lang, 'accounts')),
    table('accounts', [t(c.lang, 'id'), t(c.lang, 'name'), t(c.lang, 'roles'), t(c.lang, 'status'), t(c.lang, 'certification'), ''],
      accounts.map((a) => [a.id, a.name, a.roles.split(',').map((r) => roleName(c.lang, r.trim())).join('・'), a.status, certification(a), el('span', {},
        act(a.id, 'suspend', t(c.lang, 'suspend')), act(a.id, 'resume', t(c.lang, 'resume')),
        act(a.id, 'unlock', t(c.lang, 'unlockAccount')),
        button(t(c.lang, 'reset'), `reset-${a.id}`, (b) => c.busy(b, async () => show(await api.resetAccount(a.id))), 'quiet'),
        act(a.id, 'disable', t(c.lang, 'disable')))])),
    el('h2', {}, t(c.lang, 'add')),
    el('div', { class: 'row' }, field(t(c.lang, 'id'), id), field(t(c.lang, 'name'), name), field(t(c.lang, 'roles'), roles),
      button(t(c.lang, 'add'), 'account-add', (b) => c.busy(b, async () => {
        show(await api.addAccount(id.value, name.value, roles.value));
        id.value = name.value = '';
      }))),
    issued);
  const who = input('hours-id');
  const hours = input('hours-value');
  area.append(el('h2', {}, t(c.lang, 'hours')), el('div', { class: 'row' }, field(t(c.lang, 'id'), who), field(t(c.lang, 'hours'), hours),
    button(t(c.lang, 'setHours'), 'hours-set', (b) => c.busy(b, async () => {
      await api.setHours(who.value, hours.value || null);
      c.ok(t(c.lang, 'done'));
    }))));
}

export async function rostersScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const { entries, requests } = await api.rosters();
  const approves = may(c.me, 'roster.approve');
  const rosterName = (r: string) => t(c.lang, r === 'handler' ? 'handlerRoster' : 'workerRoster');
  const roster = select('roster-kind', [['handler', t(c.lang, 'handlerRoster')], ['worker', t(c.lang, 'workerRoster')]]);
  const person = input('roster-person');
  const name = input('roster-name');
  const dept = input('roster-department');
  const pos = input('roster-position');
  const addr = input('roster-address');
  const birth = input('roster-birth', { type: 'date' });
  const ref = input('roster-ref');
  const date = input('roster-date', { type: 'date' });
  area.replaceChildren(el('h1', {}, t(c.lang, 'rosters')),
    el('h2', {}, t(c.lang, 'requests')),
    table('roster-requests', ['#', t(c.lang, 'roster'), t(c.lang, 'change_'), t(c.lang, 'person'), t(c.lang, 'name'), t(c.lang, 'requestedBy'), ''],
      requests.map((r) => [String(r.id), rosterName(r.roster), r.change, r.person, r.fields?.name ?? '', `${r.requested_by} ${japanTime(r.requested_at)}`,
        approves ? button(t(c.lang, 'approve'), `approve-${r.id}`, (b) => c.busy(b, async () => {
          await api.rosterApprove(r.id, ref.value, date.value);
          c.go({ screen: 'rosters' });
        })) : ''])),
    approves ? el('div', { class: 'row' }, field(t(c.lang, 'approvalRef'), ref), field(t(c.lang, 'approvedOn'), date)) : el('span'),
    el('h2', {}, t(c.lang, 'entries')),
    table('roster-entries', [t(c.lang, 'roster'), t(c.lang, 'person'), t(c.lang, 'name'), t(c.lang, 'department'), t(c.lang, 'position'), t(c.lang, 'approvalRef'), ''],
      entries.map((e) => [rosterName(e.roster), e.person, e.name, e.department, e.position, `${e.approved_ref} (${e.approved_date})`,
        button(t(c.lang, 'requestRemove'), `remove-${e.roster}-${e.person}`, (b) => c.busy(b, async () => {
          await api.rosterRemove(e.roster, e.person);
          c.go({ screen: 'rosters' });
        }), 'quiet')])),
    el('h2', {}, t(c.lang, 'requestAdd')),
    el('div', { class: 'grid' }, field(t(c.lang, 'roster'), roster), field(t(c.lang, 'person'), person), field(t(c.lang, 'name'), name),
      field(t(c.lang, 'department'), dept), field(t(c.lang, 'position'), pos), field(t(c.lang, 'address'), addr), field(t(c.lang, 'birthDate'), birth)),
    button(t(c.lang, 'requestAdd'), 'roster-request', (b) => c.busy(b, async () => {
      await api.rosterAdd(roster.value, person.value, {
        name: name.value, department: dept.value, position: pos.value,
        ...(addr.value ? { address: addr.value } : {}), ...(birth.value ? { birth_date: birth.value } : {}),
      });
      c.go({ screen: 'rosters' });
    })));
}

export async function policyScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const entries = await api.policy();
  area.replaceChildren(el('h1', {}, t(c.lang, 'policy')),
    table('policy', [t(c.lang, 'key'), t(c.lang, 'value'), t(c.lang, 'default_'), t(c.lang, 'meaning'), ''],
      entries.map((p) => {
        const v = input(`policy-${p.key}`);
        v.value = p.value;
        return [p.key, v, p.default, p.meaning, button(t(c.lang, 'set'), `set-${p.key}`, (b) => c.busy(b, async () => {
          await api.policySet(p.key, v.value);
          if (p.key === 'session.idle_minutes') c.setIdleMinutes(Number(v.value));
          c.ok(`${p.key} = ${v.value}`);
        }), 'quiet')];
      })));
}
