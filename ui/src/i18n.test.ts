import { describe, expect, it } from 'vitest';
import { explain, planState, roleName, t } from './i18n';

describe('i18n', () => {
  it('speaks Japanese first and English on request', () => {
    expect(t('ja', 'signIn')).toBe('サインイン');
    expect(t('en', 'signIn')).toBe('Sign in');
  });
});

describe('failures and states in words', () => {
  it('say what happened and what to do next, with the core line kept', () => {
    // As the shell sends it: the code, the core's lead, the detail.
    const denied = { code: 'denied', lead: { ja: 'この操作は許可されていません。', en: 'You are not permitted to do this.' }, message: 'not permitted: x' };
    const e = explain('ja', denied);
    expect(e.sentence).toBe('この操作は許可されていません。');
    expect(e.detail).toBe('not permitted: x');
    expect(explain('en', denied).sentence).toBe('You are not permitted to do this.');
    // Anything else (an IPC failure, a bare string) still reads as words.
    expect(explain('ja', 'boom').detail).toBe('boom');
    expect(explain('en', { code: 'x', message: 'm' }).sentence).toContain('did not work');
  });
  it('name plan states in Japanese and English, unknown ones as given', () => {
    expect(planState('ja', 'executed')).toContain('確認待ち');
    expect(planState('en', 'approved')).toContain('Approved');
    expect(planState('ja', 'odd')).toBe('odd');
    expect(roleName('ja', 'handler')).toBe('情報取扱者');
    expect(roleName('en', 'sysadmin')).toBe('System administrator');
  });
});
