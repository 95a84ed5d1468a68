// The core's answers as the page sees them, and one typed call per app
// command. Nothing here decides anything: the core checks every call.

import { Channel, invoke } from '@tauri-apps/api/core';

// The types are generated from the Rust types the commands return
// (src-tauri/src/page_types.rs): none is copied here by hand.
import type {
  About, Account, Alert, Algorithm, AppStatus, AuditRecord, Connection, Certified, Chosen, Component, DocumentInfo, Holding, Incident, LogFilter, Me, Pending, PlanState, PolicyEntry, Progress, RosterEntry, RosterFields, RosterRequest, Rosters, Saved, TrailReport, UpgradeReport, ViewInfo, ViewKind,
} from './generated/types';
export type {
  About, Account, Alert, Algorithm, AppStatus, AuditRecord, Connection, Certified, Chosen, Component, DocumentInfo, Holding, Incident, LogFilter, Me, Pending, PlanState, PolicyEntry, Progress, RosterEntry, RosterFields, RosterRequest, Rosters, Saved, TrailReport, UpgradeReport, ViewInfo, ViewKind,
};

export const api = {
  status: () => invoke<AppStatus>('app_status'),
  about: () => invoke<About>('about'),
  createVault: (req: { officer_id: string; officer_name: string; council: string; password: string }) =>
    invoke<{ vault_id: string; recovery_code: string }>('create_vault', { req }),
  signIn: (id: string, password: string, totp: string | null, pin: string | null) =>
    invoke<Me>('sign_in', { id, password, totp, pin }),
  upgradeVault: (id: string, password: string, totp: string | null, recoveryCode: string) =>
    invoke<UpgradeReport>('upgrade_vault', { id, password, totp, recoveryCode }),
  signOut: () => invoke<void>('sign_out'),
  lock: () => invoke<boolean>('lock'),
  touch: () => invoke<void>('touch'),
  changePassword: (password: string) => invoke<Me>('change_password', { password }),
  totpEnroll: () => invoke<{ uri: string; secret: string; qr: string[] }>('totp_enroll'),
  totpConfirm: (code: string) => invoke<Me>('totp_confirm', { code }),
  tokenEnrol: (password: string, pin: string) => invoke<Me>('token_enrol', { password, pin }),
  connection: () => invoke<Connection>('connection'),
  connect: (url: string, fingerprint: string, token: string | null) =>
    invoke<Connection>('connect', { url, fingerprint, token }),
  connectCollect: () => invoke<Connection>('connect_collect'),
  documents: () => invoke<DocumentInfo[]>('list_documents'),
  document: (id: number) => invoke<DocumentInfo>('show_document', { id }),
  pickFile: () => invoke<Chosen | null>('pick_file'),
  pickFolder: () => invoke<Chosen | null>('pick_folder'),
  importDocument: (req: { file: string; origin: string; via: string; purpose: string; title: string | null; personal_data: boolean },
    onProgress: (p: Progress) => void) => {
    const progress = new Channel<Progress>();
    progress.onmessage = onProgress;
    return invoke<number>('import_document', { req, progress });
  },
  cancelImport: () => invoke<void>('cancel_import'),
  view: (id: number) => invoke<ViewInfo>('view_document', { id }),
  viewBytes: (id: number) => invoke<ArrayBuffer>('view_bytes', { id }),
  exportDocument: (id: number, folder: string) => invoke<{ id: number; bytes: number; sha256: string }>('export_document', { id, folder }),
  approveExport: (id: number, reference: string, person: string | null) => invoke<number>('approve_export', { id, reference, person }),
  grant: (id: number, person: string) => invoke<void>('grant', { id, person }),
  revoke: (id: number, person: string) => invoke<void>('revoke', { id, person }),
  grantsByPerson: () => invoke<Holding[]>('grants_by_person'),
  accounts: () => invoke<Account[]>('list_accounts'),
  addAccount: (id: string, name: string, roles: string) => invoke<{ id: string; initial_password: string }>('add_account', { id, name, roles }),
  lifecycle: (id: string, what: 'suspend' | 'resume' | 'disable' | 'unlock') => invoke<void>('account_lifecycle', { id, what }),
  certifyAccount: (id: string, fingerprint: string) => invoke<Certified>('certify_account', { id, fingerprint }),
  resetAccount: (id: string) => invoke<{ id: string; initial_password: string }>('reset_account', { id }),
  setHours: (id: string, hours: string | null) => invoke<void>('set_account_hours', { id, hours }),
  rosters: () => invoke<{ entries: RosterEntry[]; requests: RosterRequest[] }>('roster_list'),
  rosterAdd: (roster: string, person: string, fields: RosterFields) => invoke<number>('roster_request_add', { roster, person, fields }),
  rosterRemove: (roster: string, person: string) => invoke<number>('roster_request_remove', { roster, person }),
  rosterApprove: (request: number, reference: string, date: string) => invoke<void>('roster_approve', { request, reference, date }),
  policy: () => invoke<PolicyEntry[]>('policy_show'),
  policySet: (key: string, value: string) => invoke<void>('policy_set', { key, value }),
  auditLog: (filter: LogFilter) => invoke<AuditRecord[]>('audit_log', { filter }),
  auditVerify: () => invoke<TrailReport>('audit_verify'),
  auditCheckpoint: (folder: string) => invoke<Saved>('audit_checkpoint', { folder }),
  alerts: (all: boolean) => invoke<Alert[]>('alerts', { all }),
  /// Open alerts numbered after `after`; the shell tells the desktop too.
  watchAlerts: (after: number) => invoke<Alert[]>('watch_alerts', { after }),
  alertAck: (id: number, note: string) => invoke<void>('alert_ack', { id, note }),
  incidents: (all: boolean) => invoke<Incident[]>('incidents', { all }),
  incidentAdd: (form: Record<string, string>) => invoke<number>('incident_add', { form }),
  incidentUpdate: (id: number, form: Record<string, string>) => invoke<Incident>('incident_update', { id, form }),
  incidentClose: (id: number, note: string) => invoke<void>('incident_close', { id, note }),
  statusReport: (month: string, folder: string) => invoke<Saved>('status_report', { month, folder }),
  disposalStatus: () => invoke<PlanState | null>('disposal_status'),
  disposalPlan: (form: { executor: string; confirmer: string; items: number[]; planned_date: string; returned: boolean; folder: string }) =>
    invoke<Saved>('disposal_plan', { form }),
  disposalApprove: (reference: string, approvedOn: string, sha256: string) =>
    invoke<number>('disposal_approve', { reference, approvedOn, sha256 }),
  disposalExecute: () => invoke<PlanState>('disposal_execute'),
  disposalConfirm: (recoveryCode: string) => invoke<PlanState>('disposal_confirm', { recoveryCode }),
  disposalReport: (folder: string) => invoke<Saved>('disposal_report', { folder }),
};
