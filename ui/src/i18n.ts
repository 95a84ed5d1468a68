// Japanese first, English switchable. Every word the page shows is here,
// so a newcomer finds a screen's text in one place.

export type Lang = 'ja' | 'en';

const TEXT = {
  title: ['Kinko 金庫', 'Kinko'],
  language: ['English', '日本語'],
  // the office server (connection setting)
  toConnect: ['事務所サーバーに接続', 'Connect to an office server'],
  connectTitle: ['事務所サーバーへの接続', 'Connecting to the office server'],
  connectIntro: ['システム管理者から受け取ったサーバーのアドレスとCA指紋（と登録用トークン）を入力します。この端末はサーバーの金庫を使うようになります。', 'Enter the server\'s address and CA fingerprint (and the enrolment token) the system administrator gave you. This PC then works on the server\'s vault.'],
  serverUrl: ['サーバーのアドレス', 'Server address'],
  caFingerprint: ['CA指紋', 'CA fingerprint'],
  enrolToken: ['登録用トークン（なければ空欄）', 'Enrolment token (blank if none)'],
  connect: ['接続する', 'Connect'],
  connectWaiting: ['システム管理者の承認を待っています。承認コード:', 'Waiting for the system administrator\'s approval. Code:'],
  checkAgain: ['承認を確認', 'Check the approval'],
  connectedTo: ['事務所サーバー', 'Office server'],
  back: ['戻る', 'Back'],
  // first run
  firstRun: ['金庫の作成（初回設定）', 'Create the vault (first run)'],
  firstRunIntro: ['この端末にはまだ金庫がありません。情報管理責任者のアカウントで金庫を作成します。', 'There is no vault here yet. Create it with the Information Management Officer\'s account.'],
  council: ['協議会名', 'Council name'],
  officerId: ['情報管理責任者のユーザーID', 'Officer\'s user ID'],
  officerName: ['氏名', 'Full name'],
  newPassword: ['新しいパスワード', 'New password'],
  repeatPassword: ['新しいパスワード（確認）', 'New password (again)'],
  passwordsDiffer: ['2つのパスワードが一致しません。同じものを入力してください。', 'The two passwords differ; type the same one twice.'],
  create: ['作成', 'Create'],
  recoveryTitle: ['回復コード（一度だけ表示）', 'Recovery code (shown once)'],
  recoveryIntro: ['このコードを紙に書き、金庫とは別の施錠できる場所に保管してください。再表示はできません。', 'Write this code on paper and keep it locked away from the vault. It is never shown again.'],
  recoveryDone: ['保管しました。サインインへ', 'I have stored it: sign in'],
  upgradeTitle: ['金庫の更新', 'Upgrade the vault'],
  upgradeIntro: ['この金庫は以前の版の Kinko で作られました。情報管理責任者が一度だけ、パスワードと回復コード（紙に保管したもの）で更新します。更新のあと、ほかの人は次のサインインで新しいパスワードを決め、鍵の指紋を責任者に見せて認証を受けます。', 'An earlier Kinko made this vault. The Information Management Officer upgrades it once, with their password and the recovery code kept on paper. Afterwards everyone else chooses a new password at their next sign-in and shows the officer their key fingerprint to be certified.'],
  recoveryCodeField: ['回復コード', 'Recovery code'],
  confirmTries: ['確認では、すべての項目を確認者の鍵と回復コード（管理用の鍵）で読もうと試み、読めないことを記録します。', 'The confirmation tries to read every item with your key and with the recovery code (the custodian key), and records that nothing could be read.'],
  upgrade: ['更新する', 'Upgrade'],
  upgradedTitle: ['金庫を更新しました', 'The vault is upgraded'],
  upgradedAwaiting: ['次のサインインで新しいパスワードを決め、認証を受ける人', 'People who choose a new password at their next sign-in and are then certified'],
  upgradedSetAside: ['認証後に「アカウントの回復」で戻す文書の鍵', 'Document keys to give back with account recovery once they are certified'],
  upgradedUnsigned: ['記録に見当たらず署名しなかったもの', 'Not signed, as the trail does not show them'],
  toSignIn: ['サインインへ', 'Go to sign-in'],
  // sign in
  signIn: ['サインイン', 'Sign in'],
  id: ['ユーザーID', 'User ID'],
  password: ['パスワード', 'Password'],
  totp: ['ワンタイムコード（6桁）', 'One-time code (6 digits)'],
  totpHint: ['認証アプリのコードを入力してください（未登録の方は空欄のまま）。', 'The code from your authenticator app (leave empty if not enrolled yet).'],
  signOut: ['サインアウト', 'Sign out'],
  locked: ['ロック中', 'Locked'],
  lockedIntro: ['一定時間操作がなかったため、ロックしました。鍵はメモリから消去されています。続けるには再度サインインしてください。', 'The app locked after a time without use; the keys have left memory. Sign in again to continue where you were.'],
  unlock: ['ロック解除', 'Unlock'],
  mustChange: ['初回のため（または期限切れのため）、パスワードを変更してください。', 'Change your password first (it is new, reset or expired).'],
  change: ['変更', 'Change'],
  enrolTitle: ['ワンタイムコードの登録', 'Enrol a one-time code'],
  enrolIntro: ['認証アプリでこのQRコードを読み取り、表示された6桁のコードを入力してください。', 'Scan this QR code with your authenticator app, then type the 6-digit code it shows.'],
  secret: ['手入力用の秘密鍵', 'Secret for typing in'],
  confirm: ['確認', 'Confirm'],
  // navigation
  documents: ['文書', 'Documents'],
  import: ['受領（取込み）', 'Receive'],
  grants: ['付与状況', 'Grants by person'],
  noGrants: ['付与されている文書はありません。', 'No documents are granted.'],
  accounts: ['アカウント', 'Accounts'],
  rosters: ['名簿', 'Rosters'],
  policy: ['ポリシー', 'Policy'],
  audit: ['監査ログ', 'Audit'],
  alerts: ['アラート', 'Alerts'],
  contractEnd: ['契約終了（返却・廃棄）', 'Contract end'],
  incidents: ['インシデント', 'Incidents'],
  statusReport: ['履行状況報告', 'Status report'],
  about: ['このアプリについて', 'About'],
  version: ['版', 'Version'],
  network: ['通信', 'Network'],
  noNetwork: ['なし（Kinko はネットワーク接続を行いません）', 'None: Kinko opens no network connection'],
  algorithmsInUse: ['使用している暗号アルゴリズム', 'Algorithms in use'],
  purpose_: ['用途', 'Purpose'],
  algorithm: ['方式', 'Algorithm'],
  algorithmId: ['識別子', 'Id'],
  cryptrecList: ['CRYPTREC 推奨', 'CRYPTREC list'],
  dependencies: ['依存ソフトウェア一覧（SBOM）', 'Dependency inventory (SBOM)'],
  name_: ['名前', 'Name'],
  license: ['ライセンス', 'License'],
  // documents
  search: ['検索（件名・ファイル名）', 'Search (title, file name)'],
  purposeFilter: ['案件（目的）', 'Case (purpose)'],
  all: ['すべて', 'All'],
  personalOnly: ['個人情報を含むもののみ', 'Personal data only'],
  receivedFrom: ['受領日（から）', 'Received from'],
  receivedTo: ['受領日（まで）', 'Received to'],
  docTitle: ['件名', 'Title'],
  labelHidden: ['（件名は保有者と情報管理責任者のみ）', '(title sealed: holders and the officer only)'],
  fileName: ['ファイル名', 'File name'],
  received: ['受領日時', 'Received'],
  personal: ['個人情報', 'Personal data'],
  size: ['サイズ', 'Size'],
  origin: ['受領元', 'From'],
  via: ['受領方法', 'How it came'],
  purpose: ['目的・案件', 'Purpose / case'],
  holders: ['鍵を持つ人', 'Key holders'],
  open: ['閲覧', 'View'],
  details: ['詳細・付与', 'Details & grants'],
  noDocuments: ['表示できる文書はありません。', 'No documents to show.'],
  // import
  chooseFile: ['ファイルを選択…', 'Choose a file…'],
  dropHere: ['ここにファイルをドロップ', 'Drop a file here'],
  filePath: ['ファイル', 'File'],
  receive: ['受領する', 'Receive'],
  received_ok: ['受領しました。文書番号', 'Received as document'],
  // viewer
  watermark: ['閲覧者', 'Viewer'],
  close: ['閉じる', 'Close'],
  exportTo: ['書き出し先フォルダ', 'Export to folder'],
  export: ['書き出す（記録されます）', 'Export (recorded)'],
  exported: ['書き出しました', 'Exported'],
  notViewable: ['この種類の文書はアプリ内で表示できません。書き出し（記録・承認が必要）で扱ってください。', 'This kind of document cannot be shown in the app; export it (recorded, approval rules apply).'],
  page: ['ページ', 'Page'],
  previous: ['前へ', 'Previous'],
  next: ['次へ', 'Next'],
  rowsShown: ['行を表示', 'rows shown'],
  // grants
  grantTo: ['付与する相手（ユーザーID）', 'Grant to (user ID)'],
  grant: ['付与', 'Grant'],
  revoke: ['取消', 'Revoke'],
  approveExport: ['書き出しを承認', 'Approve an export'],
  approvalRef: ['承認番号（局の指示など）', 'Approval reference'],
  forPerson: ['対象者（空欄はだれでも1回）', 'For (empty: anyone, once)'],
  done: ['完了しました。', 'Done.'],
  // accounts
  roles: ['役割', 'Roles'],
  status: ['状態', 'Status'],
  add: ['追加', 'Add'],
  name: ['氏名', 'Name'],
  initialPassword: ['初期パスワード（一度だけ表示。本人に手渡しで伝えてください）', 'Initial password (shown once; hand it to the person)'],
  suspend: ['停止', 'Suspend'],
  resume: ['再開', 'Resume'],
  disable: ['無効化（退職）', 'Disable (left)'],
  unlockAccount: ['ロック解除', 'Unlock'],
  certification: ['認証', 'Certification'],
  certified: ['認証済み', 'Certified'],
  awaitingPerson: ['本人の初回サインイン待ち', 'Awaiting first sign-in'],
  awaitingOfficer: ['責任者の認証待ち', 'Awaiting the officer'],
  certify: ['認証する', 'Certify'],
  fingerprintOnScreen: ['本人の画面の鍵の指紋', "Fingerprint on the person's screen"],
  tokenPin: ['トークン（ICカード等）のPIN', 'Token (IC card) PIN'],
  tokenTitle: ['トークンの登録が必要です', 'A token is required'],
  tokenIntro: ['この金庫では、パスワードに加えてICカード等のトークンでサインインします。トークンを差し込み、あなたの鍵をトークンに結び付けてください。', 'This vault signs in with a token (IC card, HSM) as well as the password. Insert your token and bind your keys to it.'],
  tokenBind: ['トークンに結び付ける', 'Bind to the token'],
  tokenSetup: ['この端末にはトークンの設定がありません。システム管理者に、アプリの起動設定で KINKO_PKCS11_MODULE（トークンのモジュールのフルパス）を設定してもらうか、kinko token enrol コマンドを使ってください。', 'This terminal has no token set up: ask the system administrator to set KINKO_PKCS11_MODULE (the full path of the token\'s module) where the app starts, or use the command kinko token enrol.'],
  awaitingTitle: ['情報管理責任者の認証待ち', "Awaiting the officer's certification"],
  awaitingIntro: ['あなたの鍵が作られました。情報管理責任者が本人確認のうえ認証するまで、文書は扱えません。次の鍵の指紋を責任者に直接見せてください（電話やメールではなく）。', 'Your keys have been made. Until the Information Management Officer has checked who you are and certified them, you cannot handle documents. Show the officer this key fingerprint in person (not by phone or e-mail).'],
  keyFingerprint: ['鍵の指紋', 'Key fingerprint'],
  reset: ['リセット', 'Reset'],
  hours: ['利用可能時間（例 08:00-19:00、空欄は役割どおり）', 'Allowed hours (e.g. 08:00-19:00; empty: the role\'s)'],
  setHours: ['時間を設定', 'Set hours'],
  // rosters
  roster: ['名簿', 'Roster'],
  handlerRoster: ['情報取扱者名簿', 'Handler roster'],
  workerRoster: ['業務従事者名簿', 'Worker roster'],
  entries: ['名簿（局承認済み）', 'Roster (approved by the bureau)'],
  requests: ['承認待ちの申請', 'Requests awaiting approval'],
  person: ['ユーザーID', 'User ID'],
  department: ['所属', 'Department'],
  position: ['役職', 'Position'],
  address: ['住所', 'Address'],
  birthDate: ['生年月日', 'Date of birth'],
  requestAdd: ['追加を申請', 'Request addition'],
  requestRemove: ['削除を申請', 'Request removal'],
  approve: ['局の承認を記録', 'Record the bureau\'s approval'],
  approvedOn: ['承認日', 'Approved on'],
  change_: ['変更', 'Change'],
  requestedBy: ['申請者', 'Requested by'],
  // policy
  key: ['項目', 'Setting'],
  value: ['値', 'Value'],
  default_: ['既定値', 'Default'],
  meaning: ['意味', 'Meaning'],
  set: ['設定', 'Set'],
  // audit
  timeline: ['日別の記録件数', 'Events per day'],
  since: ['開始（YYYY-MM-DD）', 'From (YYYY-MM-DD)'],
  until: ['終了（YYYY-MM-DD）', 'To (YYYY-MM-DD)'],
  actor: ['操作者', 'Person'],
  event: ['操作', 'Event'],
  object: ['対象', 'Object'],
  outcome: ['結果', 'Outcome'],
  detail: ['詳細', 'Detail'],
  at: ['日時', 'Time'],
  filter: ['絞り込み', 'Filter'],
  verify: ['改ざん検証', 'Verify'],
  verified: ['監査ログは改ざんされていません。件数', 'The audit trail is intact. Events'],
  checkpointExport: ['署名付きチェックポイントを保存', 'Save a signed checkpoint'],
  saveFolder: ['保存先フォルダ', 'Save to folder'],
  chooseFolder: ['フォルダを選択…', 'Choose a folder…'],
  nothingChosen: ['（未選択）', '(nothing chosen)'],
  saved: ['保存しました', 'Saved'],
  showAll: ['確認済みも表示', 'Show acknowledged too'],
  rule: ['規則', 'Rule'],
  summary: ['内容', 'Summary'],
  ack: ['確認済みにする', 'Acknowledge'],
  note: ['メモ', 'Note'],
  ackedBy: ['確認者', 'Acknowledged by'],
  noAlerts: ['未確認のアラートはありません。', 'No open alerts.'],
  openAlerts: ['未確認のアラート', 'Open alerts'],
  // contract end
  noPlan: ['廃棄計画はまだありません。', 'No disposal plan yet.'],
  step: ['手順', 'Step'],
  who: ['担当', 'Who'],
  when: ['日時', 'When'],
  planStep: ['1. 計画（別添1）', '1. Plan (form 1)'],
  approveStep: ['2. 局の承認', '2. Bureau approval'],
  executeStep: ['3. 実施', '3. Execute'],
  confirmStep: ['4. 確認（別の者）', '4. Confirm (another person)'],
  reportStep: ['5. 完了報告（別添2）', '5. Report (form 2)'],
  executor: ['実施者（ユーザーID）', 'Executor (user ID)'],
  confirmer: ['確認者（ユーザーID）', 'Confirmer (user ID)'],
  items: ['対象の文書番号（空欄はすべて）', 'Document numbers (empty: all)'],
  plannedDate: ['完了予定日（YYYY-MM-DD）', 'Planned completion (YYYY-MM-DD)'],
  returnFirst: ['先に局へ返却する', 'Return to the bureau first'],
  makePlan: ['計画書を作成', 'Write the plan'],
  planSha: ['承認された計画書のSHA-256', 'SHA-256 of the approved plan'],
  planShaHint: ['承認された計画書に印字された64桁', 'the 64 characters printed on the approved plan'],
  otherUser: ['別の人でサインイン', 'Sign in as someone else'],
  execute: ['廃棄を実施', 'Execute the disposal'],
  confirmDisposal: ['廃棄を確認', 'Confirm the disposal'],
  writeReport: ['完了報告書を作成', 'Write the completion report'],
  state: ['状態', 'State'],
  executeWarning: ['実施すると対象の文書は復元できなくなります。よろしいですか。', 'Executing makes the listed documents unrecoverable. Go ahead?'],
  // incidents
  detectedAt: ['発見日時（YYYY-MM-DD HH:MM）', 'Detected (YYYY-MM-DD HH:MM)'],
  reportedAt: ['局への報告日時', 'Reported to the bureau'],
  affected: ['対象（例 document:3）', 'Affected (e.g. document:3)'],
  actions: ['対応', 'Actions taken'],
  improvement: ['再発防止策', 'Improvement plan'],
  record: ['記録', 'Record'],
  update: ['追記', 'Add to it'],
  closeIncident: ['完了にする', 'Close'],
  open_: ['対応中', 'Open'],
  closed: ['完了', 'Closed'],
  // status report
  month: ['対象月（YYYY-MM）', 'Month (YYYY-MM)'],
  makeReport: ['報告書を作成', 'Write the report'],
  // shared
  cancel: ['中止', 'Cancel'],
  working: ['処理中…', 'Working…'],
  yes: ['はい', 'Yes'],
  problem: ['金庫を開けません', 'The vault cannot be opened'],
  lockedNow: ['ロック', 'Lock'],
} as const;

export type Key = keyof typeof TEXT;

// A disposal plan's state as the core names it, in words.
const PLAN_STATES: Record<string, [string, string]> = {
  draft: ['計画作成済み（局の承認待ち）', 'Planned (awaiting the bureau\'s approval)'],
  approved: ['承認済み（実施待ち）', 'Approved (to be executed)'],
  executing: ['実施中（中断した場合は再実行で再開）', 'Executing (run it again to resume)'],
  executed: ['実施済み（確認待ち）', 'Executed (to be confirmed)'],
  confirmed: ['確認済み（完了報告書を作成できます）', 'Confirmed (the report can be written)'],
  reported: ['完了報告済み', 'Reported'],
  superseded: ['新しい計画に置き換え済み', 'Superseded by a newer plan'],
};

const ROLES: Record<string, [string, string]> = {
  officer: ['情報管理責任者', 'Information Management Officer'],
  manager: ['情報取扱管理担当者', 'Handling manager'],
  handler: ['情報取扱者', 'Handler'],
  sysadmin: ['システム管理者', 'System administrator'],
  auditor: ['監査担当者', 'Auditor'],
};

export function roleName(lang: Lang, role: string): string {
  const known = ROLES[role];
  return known ? known[lang === 'ja' ? 0 : 1] : role;
}

export function planState(lang: Lang, state: string): string {
  const known = PLAN_STATES[state];
  return known ? known[lang === 'ja' ? 0 : 1] : state;
}

export function t(lang: Lang, key: Key): string {
  return TEXT[key][lang === 'ja' ? 0 : 1];
}

/// A refusal from the shell: its code, the core's lead sentence in both
/// languages (the one list of leads, `kinko_core::error::lead`) and the
/// detail line.
export interface Failure { code?: string; lead?: { ja?: string; en?: string }; message?: string }

/// The sentence for a failure (the core's lead), and the detail line.
export function explain(lang: Lang, e: unknown): { sentence: string; detail: string } {
  const f = (e ?? {}) as Failure;
  const detail = typeof f.message === 'string' ? f.message : String(e);
  const lead = f.lead?.[lang];
  const sentence = typeof lead === 'string' && lead !== '' ? lead :
    (lang === 'ja' ? 'うまくいきませんでした。続く説明をご覧ください。' : 'That did not work. See the detail.');
  return { sentence, detail };
}
