// The end of the contract, step by step: plan (別添1) → the bureau's
// approval → execution → confirmation by another person → completion
// report (別添2). Each step shows who did it and when; the core decides
// who may do each.

import { api, type PlanState } from '../api';
import { button, checkbox, el, field, input, table } from '../dom';
import { choice } from '../choice';
import { planState, t } from '../i18n';
import { japanTime, may, parseItems } from '../logic';
import type { Ctx } from '../ctx';

function steps(c: Ctx, p: PlanState | null): HTMLElement {
  const when = (s: string | null) => (s ? japanTime(s) : '—');
  return table('disposal-steps', [t(c.lang, 'step'), t(c.lang, 'who'), t(c.lang, 'when')], [
    [t(c.lang, 'planStep'), p ? `#${p.plan.plan}` : '—', p ? p.sha256.slice(0, 16) + '…' : '—'],
    [t(c.lang, 'approveStep'), p?.approved_ref ?? '—', p?.approved_date ?? '—'],
    [t(c.lang, 'executeStep'), p?.executed_by ?? '—', when(p?.executed_at ?? null)],
    [t(c.lang, 'confirmStep'), p?.confirmed_by ?? '—', when(p?.confirmed_at ?? null)],
    [t(c.lang, 'reportStep'), p?.completed_date ? '✔' : '—', p?.completed_date ?? '—'],
  ]);
}

export async function contractEndScreen(c: Ctx, area: HTMLElement): Promise<void> {
  const plan = await api.disposalStatus();
  const plans = may(c.me, 'disposal.plan');
  const acts = may(c.me, 'disposal.execute');
  const folder = choice(c, 'disposal-folder', 'folder');
  const again = () => c.go({ screen: 'contractEnd' });
  const parts: HTMLElement[] = [el('h1', {}, t(c.lang, 'contractEnd')),
    plan ? el('p', { id: 'disposal-state' }, `${t(c.lang, 'state')}: ${planState(c.lang, plan.state)}`) : el('p', { id: 'disposal-state' }, t(c.lang, 'noPlan')),
    steps(c, plan), folder.element];
  if (plans) {
    const executor = input('plan-executor');
    const confirmer = input('plan-confirmer');
    const items = input('plan-items');
    const date = input('plan-date', { type: 'date' });
    const ret = checkbox('plan-return');
    parts.push(el('h2', {}, t(c.lang, 'planStep')),
      el('div', { class: 'grid' }, field(t(c.lang, 'executor'), executor), field(t(c.lang, 'confirmer'), confirmer),
        field(t(c.lang, 'items'), items), field(t(c.lang, 'plannedDate'), date),
        el('label', { class: 'check' }, ret, t(c.lang, 'returnFirst'))),
      button(t(c.lang, 'makePlan'), 'plan-make', (b) => c.busy(b, async () => {
        const s = await api.disposalPlan({
          executor: executor.value, confirmer: confirmer.value, items: parseItems(items.value),
          planned_date: date.value, returned: ret.checked, folder: folder.take(),
        });
        c.ok(`${t(c.lang, 'saved')}: ${s.paths.join(', ')}`);
        again();
      })));
    if (plan && !plan.approved_ref) {
      const ref = input('approve-ref');
      const on = input('approve-date', { type: 'date' });
      // Typed from the plan the bureau approved, never filled in: the core
      // then refuses an approval meant for another plan.
      const sha = input('approve-sha', { placeholder: t(c.lang, 'planShaHint'), spellcheck: 'false' });
      parts.push(el('h2', {}, t(c.lang, 'approveStep')),
        el('div', { class: 'grid' }, field(t(c.lang, 'approvalRef'), ref), field(t(c.lang, 'approvedOn'), on), field(t(c.lang, 'planSha'), sha)),
        button(t(c.lang, 'approve'), 'approve-plan', (b) => c.busy(b, async () => {
          await api.disposalApprove(ref.value, on.value, sha.value);
          again();
        })));
    }
  }
  if (acts && plan?.approved_ref && !plan.executed_at) {
    // Asked twice, in the page: the erase cannot be undone.
    const sure = el('div', { id: 'execute-sure', class: 'notice', hidden: '' },
      el('p', {}, t(c.lang, 'executeWarning')),
      button(t(c.lang, 'yes'), 'disposal-execute-sure', (b) => c.busy(b, async () => {
        await api.disposalExecute();
        again();
      }), 'danger'),
      button(t(c.lang, 'cancel'), 'disposal-execute-cancel', () => { sure.hidden = true; }, 'quiet'));
    parts.push(button(t(c.lang, 'execute'), 'disposal-execute', () => { sure.hidden = false; }, 'danger'), sure);
  }
  if (acts && plan?.executed_at && !plan.confirmed_at) {
    // The confirmation tries every item with the confirmer's key and the
    // custodian's: the recovery code kept on paper is asked for here.
    const code = input('disposal-recovery-code', { autocomplete: 'off', spellcheck: 'false' });
    parts.push(el('p', {}, t(c.lang, 'confirmTries')),
      field(t(c.lang, 'recoveryCodeField'), code),
      button(t(c.lang, 'confirmDisposal'), 'disposal-confirm', (b) => c.busy(b, async () => {
        await api.disposalConfirm(code.value);
        again();
      })));
  }
  if (may(c.me, 'disposal.report') && plan?.confirmed_at) {
    parts.push(button(t(c.lang, 'writeReport'), 'disposal-report', (b) => c.busy(b, async () => {
      const s = await api.disposalReport(folder.take());
      c.ok(`${t(c.lang, 'saved')}: ${s.paths.join(', ')}`);
    })));
  }
  area.replaceChildren(...parts);
}
