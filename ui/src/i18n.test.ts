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
    const e = explain('ja', { code: 'denied', message: 'not permitted: x' });
    expect(e.sentence).toContain('許可されていません');
    expect(e.detail).toBe('not permitted: x');
    expect(explain('en', { code: 'tampered', message: 'm' }).sentence).toContain('report it');
    expect(explain('ja', 'boom').detail).toBe('boom');
  });
  it('name plan states in Japanese and English, unknown ones as given', () => {
    expect(planState('ja', 'executed')).toContain('確認待ち');
    expect(planState('en', 'approved')).toContain('Approved');
    expect(planState('ja', 'odd')).toBe('odd');
    expect(roleName('ja', 'handler')).toBe('情報取扱者');
    expect(roleName('en', 'sysadmin')).toBe('System administrator');
  });
});
