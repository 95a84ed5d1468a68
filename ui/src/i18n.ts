// Japanese first, English switchable.

export type Lang = 'ja' | 'en';

const TEXT = {
  title: { ja: 'Kinko 金庫', en: 'Kinko' },
  signIn: { ja: 'サインイン', en: 'Sign in' },
  id: { ja: 'ユーザーID', en: 'User ID' },
  password: { ja: 'パスワード', en: 'Password' },
  totp: { ja: 'ワンタイムコード（設定済みの場合）', en: 'One-time code (if enrolled)' },
  noVault: { ja: '金庫が見つかりません', en: 'No vault found' },
  documents: { ja: '文書', en: 'Documents' },
  signOut: { ja: 'サインアウト', en: 'Sign out' },
  received: { ja: '受領日時', en: 'Received' },
  docTitle: { ja: '件名', en: 'Title' },
  personal: { ja: '個人情報', en: 'Personal data' },
  language: { ja: 'English', en: '日本語' },
} as const;

export type Key = keyof typeof TEXT;

export function t(lang: Lang, key: Key): string {
  return TEXT[key][lang];
}
