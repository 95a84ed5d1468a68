import { describe, expect, it } from 'vitest';
import { t } from './i18n';

describe('i18n', () => {
  it('speaks Japanese first and English on request', () => {
    expect(t('ja', 'signIn')).toBe('サインイン');
    expect(t('en', 'signIn')).toBe('Sign in');
  });
});
