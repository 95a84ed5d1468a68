//! The vault's policy (P5, P6, P7, A5): password rules and age, lockout,
//! two factors, idle lock, allowed hours per role, alert thresholds. Kept
//! as key/value rows; every change is an audit event (`kinko policy set`).

use rusqlite::{params, Connection};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::permission::Role;

/// Hours of the day someone may work, in Japan time: `08:30-18:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hours {
    pub from_minute: u32,
    pub to_minute: u32,
}

impl Hours {
    /// Parse `HH:MM-HH:MM`; `00:00-24:00` is the whole day.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || Error::invalid(format!("'{text}' is not a span of hours like 08:30-18:00"));
        let (a, b) = text.trim().split_once('-').ok_or_else(bad)?;
        let minute = |t: &str| -> Result<u32> {
            let (h, m) = t.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if m >= 60 || h > 24 || (h == 24 && m > 0) {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let (from_minute, to_minute) = (minute(a)?, minute(b)?);
        if from_minute >= to_minute {
            return Err(bad());
        }
        Ok(Hours {
            from_minute,
            to_minute,
        })
    }

    pub fn contains(&self, minute_of_day: u32) -> bool {
        (self.from_minute..self.to_minute).contains(&minute_of_day)
    }

    pub fn to_text(self) -> String {
        format!(
            "{:02}:{:02}-{:02}:{:02}",
            self.from_minute / 60,
            self.from_minute % 60,
            self.to_minute / 60,
            self.to_minute % 60
        )
    }
}

/// One policy setting: its key, default and what it means.
pub(crate) struct Setting {
    pub(crate) key: &'static str,
    pub(crate) default: &'static str,
    pub(crate) meaning: &'static str,
    check: fn(&str) -> Result<()>,
}

fn number(min: u64, max: u64) -> impl Fn(&str) -> Result<()> {
    move |v: &str| match v.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(()),
        _ => Err(Error::invalid(format!(
            "'{v}' must be a whole number from {min} to {max}"
        ))),
    }
}

fn boolean(v: &str) -> Result<()> {
    match v {
        "true" | "false" => Ok(()),
        _ => Err(Error::invalid(format!("'{v}' must be true or false"))),
    }
}

fn hours(v: &str) -> Result<()> {
    Hours::parse(v).map(|_| ())
}

macro_rules! num {
    ($min:expr, $max:expr) => {
        |v| number($min, $max)(v)
    };
}

pub(crate) const SETTINGS: &[Setting] = &[
    Setting {
        key: "password.min_length",
        default: "12",
        meaning: "shortest password allowed",
        check: num!(8, 128),
    },
    Setting {
        key: "password.min_classes",
        default: "3",
        meaning: "how many of upper case, lower case, digits and symbols a password needs",
        check: num!(1, 4),
    },
    Setting {
        key: "password.history",
        default: "5",
        meaning: "a new password may not be any of this many previous ones",
        check: num!(0, 24),
    },
    Setting {
        key: "password.max_age_days",
        default: "90",
        meaning: "days after which a password must be changed (0: never)",
        check: num!(0, 3650),
    },
    Setting {
        key: "password.warn_days",
        default: "14",
        meaning: "days before expiry from which sign-in warns",
        check: num!(0, 365),
    },
    Setting {
        key: "disposal.plan_days",
        default: "14",
        meaning: "days from the day a disposal plan is written to its completion date, when the plan names none",
        check: num!(1, 365),
    },
    Setting {
        key: "lockout.threshold",
        default: "5",
        meaning: "failed sign-ins in a row before the account locks",
        check: num!(1, 100),
    },
    Setting {
        key: "lockout.base_seconds",
        default: "60",
        meaning: "first lock time; it doubles with each further failure (capped at one day)",
        check: num!(1, 86_400),
    },
    Setting {
        key: "totp.required",
        default: "true",
        meaning: "every account must use a one-time code (TOTP) to sign in",
        check: boolean,
    },
    Setting {
        key: "token.required",
        default: "false",
        meaning: "every account must also sign in with a PKCS#11 token (IC card, HSM, TPM) bound to its keyslot",
        check: boolean,
    },
    Setting {
        key: "session.idle_minutes",
        default: "15",
        meaning: "idle minutes after which a session ends and the app locks",
        check: num!(1, 1440),
    },
    Setting {
        key: "hours.officer",
        default: "00:00-24:00",
        meaning: "hours (Japan time) the officer may work",
        check: hours,
    },
    Setting {
        key: "hours.manager",
        default: "00:00-24:00",
        meaning: "hours managers may work",
        check: hours,
    },
    Setting {
        key: "hours.handler",
        default: "00:00-24:00",
        meaning: "hours handlers may work",
        check: hours,
    },
    Setting {
        key: "hours.sysadmin",
        default: "00:00-24:00",
        meaning: "hours the system administrator may work",
        check: hours,
    },
    Setting {
        key: "hours.auditor",
        default: "00:00-24:00",
        meaning: "hours auditors may work",
        check: hours,
    },
    Setting {
        key: "hours.holidays",
        default: "true",
        meaning: "work is allowed on weekends and Japanese public holidays",
        check: boolean,
    },
    Setting {
        key: "alert.bulk_count",
        default: "20",
        meaning: "alert when one person opens or exports more than this many documents …",
        check: num!(1, 100_000),
    },
    Setting {
        key: "alert.bulk_minutes",
        default: "10",
        meaning: "… within this many minutes",
        check: num!(1, 10_080),
    },
    Setting {
        key: "alert.failed_count",
        default: "3",
        meaning: "alert after this many failed sign-ins of one ID …",
        check: num!(1, 1000),
    },
    Setting {
        key: "alert.failed_minutes",
        default: "15",
        meaning: "… within this many minutes",
        check: num!(1, 10_080),
    },
    Setting {
        key: "alert.holidays",
        default: "true",
        meaning: "alert when someone works on a weekend or public holiday",
        check: boolean,
    },
    Setting {
        key: "audit.retention_days",
        default: "365",
        meaning: "days audit events are kept before they may be archived (at least 365; can only be raised)",
        check: num!(365, 36_500),
    },
];

/// Is `date` a Saturday, Sunday or Japanese public holidays (including
/// substitute holidays)?
pub fn is_day_off(date: chrono::NaiveDate) -> bool {
    use chrono::Datelike;
    matches!(date.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun)
        || jpholiday::jpholiday::JPHoliday::new().is_holiday(&date)
}

/// May someone with `roles` (and perhaps their own hours) work at `now`?
/// Their own hours replace the roles'; with several roles, any role's hours
/// will do.
pub fn check_hours(
    policy: &Policy,
    roles: &crate::permission::Roles,
    own: Option<Hours>,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<()> {
    use chrono::Timelike;
    if !policy.flag("hours.holidays") && is_day_off(now.date_naive()) {
        return Err(Error::denied(format!(
            "{} is a weekend day or public holiday, when the policy allows no work",
            now.date_naive()
        )));
    }
    let minute = now.hour() * 60 + now.minute();
    let spans: Vec<Hours> = match own {
        Some(h) => vec![h],
        None => roles.0.iter().map(|r| policy.hours(*r)).collect(),
    };
    if spans.iter().any(|h| h.contains(minute)) {
        Ok(())
    } else {
        let allowed: Vec<String> = spans.iter().map(|h| h.to_text()).collect();
        Err(Error::denied(format!(
            "work is allowed only during {} (Japan time); it is {:02}:{:02}",
            allowed.join(", "),
            now.hour(),
            now.minute()
        )))
    }
}

/// Check a `KEY=VALUE` setting without storing it (for `init --policy`).
pub fn validate_setting(key: &str, value: &str) -> Result<()> {
    let setting = SETTINGS.iter().find(|s| s.key == key).ok_or_else(|| {
        Error::invalid(format!(
            "unknown policy setting '{key}' (see kinko policy show)"
        ))
    })?;
    (setting.check)(value.trim())
}

/// Store a checked setting; returns the old value for the event.
pub(crate) fn store(tx: &rusqlite::Transaction, key: &str, value: &str) -> Result<String> {
    validate_setting(key, value)?;
    let old = Policy::load(tx)?.raw(key).to_string();
    // A3: the retention period may be lengthened, never shortened, so no
    // setting can make young events archivable.
    if key == "audit.retention_days" && value.trim().parse::<u64>().ok() < old.parse().ok() {
        return Err(Error::invalid(format!(
            "audit.retention_days can only be raised (it is {old})"
        )));
    }
    tx.execute(
        "INSERT INTO policy (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value.trim()],
    )?;
    Ok(old)
}

/// Every setting the vault stores, as its policy statement says them.
fn stored_settings(conn: &Connection) -> Result<serde_json::Value> {
    let rows: std::collections::BTreeMap<String, String> = conn
        .prepare("SELECT key, value FROM policy ORDER BY key")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(serde_json::to_value(rows).expect("settings serialise"))
}

/// Sign the stored settings as the vault's policy (the officer, after
/// every change, at `init` and at the upgrade); returns the statement,
/// which a change's event names (`trail_facts.rs`).
pub(crate) fn sign_settings(conn: &Connection, signer: &crate::grant::Signer) -> Result<Vec<u8>> {
    let s = crate::statement::sign(signer, "policy", stored_settings(conn)?)?;
    let statement = s.bytes.clone();
    for (k, v) in [
        ("policy_statement", s.bytes),
        ("policy_signature", s.signature),
    ] {
        conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![k, v],
        )?;
    }
    Ok(statement)
}

/// The stored settings must be the ones the officer signed: a setting
/// written, changed or deleted outside Kinko is tampering.
///
/// `seen` is the digest of the settings and statement this session last
/// found valid: while they stay byte for byte the same, the signature and
/// its chain are not verified again (every action reads the policy, so
/// this is the hot path); any change is checked in full.
pub(crate) fn check_signed(
    conn: &Connection,
    vault_id: &str,
    root: &[u8],
    seen: &mut Option<[u8; 32]>,
) -> Result<()> {
    let get = |k: &str| -> Result<Option<Vec<u8>>> {
        Ok(rusqlite::OptionalExtension::optional(conn.query_row(
            "SELECT value FROM meta WHERE key = ?1",
            [k],
            |r| r.get(0),
        ))?)
    };
    let settings = stored_settings(conn)?;
    let signed = (get("policy_statement")?, get("policy_signature")?);
    let digest = {
        use crate::crypto::Digest;
        let mut h = crate::crypto::Sha256::new();
        for part in [
            Some(settings.to_string().into_bytes()),
            signed.0.clone(),
            signed.1.clone(),
        ] {
            let part = part.unwrap_or_default();
            h.update((part.len() as u64).to_be_bytes());
            h.update(&part);
        }
        <[u8; 32]>::from(h.finalize())
    };
    if *seen == Some(digest) {
        return Ok(());
    }
    let statement = signed.0.clone().unwrap_or_default();
    crate::statement::check(
        conn,
        vault_id,
        root,
        &crate::statement::Claim {
            kind: "policy",
            says: settings,
            needs: crate::permission::Action::PolicySet,
            what: "the vault's policy",
            by: None,
        },
        signed,
    )?;
    // An earlier policy the officer signed is still a valid statement:
    // the trail says which one is current.
    crate::trail_facts::check_policy_current(conn, &statement)?;
    *seen = Some(digest);
    Ok(())
}

/// The lockout settings, copied beside the keyslots where a failed
/// sign-in (which cannot open the database) can read them.
pub(crate) fn sync_lockout(policy: &Policy, dir: &std::path::Path) -> Result<()> {
    crate::lockout::set_policy(dir, lockout_policy(policy))
}

/// The lockout settings of a policy.
pub(crate) fn lockout_policy(policy: &Policy) -> crate::lockout::LockoutPolicy {
    crate::lockout::LockoutPolicy {
        threshold: policy.number("lockout.threshold") as u32,
        base_seconds: policy.number("lockout.base_seconds") as u32,
    }
}

/// One setting as shown by `policy show`.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PolicyEntry {
    pub key: String,
    pub value: String,
    pub default: String,
    pub meaning: String,
}

/// The policy as typed values, read where rules are applied.
#[derive(Debug, Clone)]
pub struct Policy {
    values: Vec<(&'static str, String)>,
}

impl Policy {
    /// Read the policy; settings never set take their defaults.
    pub fn load(conn: &Connection) -> Result<Self> {
        // One cached statement for all settings: every event's alert rules
        // read the policy, so this is on the hot path of every append.
        let mut stored: std::collections::HashMap<String, String> = conn
            .prepare_cached("SELECT key, value FROM policy")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut values = Vec::with_capacity(SETTINGS.len());
        for s in SETTINGS {
            let v = stored
                .remove(s.key)
                .unwrap_or_else(|| s.default.to_string());
            // Values are checked when set; one that fails now was written
            // outside Kinko.
            (s.check)(&v).map_err(|_| {
                Error::tampered(format!(
                    "the policy value of {} is not one Kinko wrote",
                    s.key
                ))
            })?;
            values.push((s.key, v));
        }
        Ok(Policy { values })
    }

    /// The defaults with `pairs` (already validated) applied.
    pub fn with(pairs: &[(String, String)]) -> Self {
        let values = SETTINGS
            .iter()
            .map(|s| {
                let v = pairs
                    .iter()
                    .rev()
                    .find(|(k, _)| k == s.key)
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_else(|| s.default.to_string());
                (s.key, v)
            })
            .collect();
        Policy { values }
    }

    pub(crate) fn raw(&self, key: &str) -> &str {
        self.values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
            .expect("every policy key has a value")
    }

    pub fn number(&self, key: &str) -> u64 {
        self.raw(key)
            .parse()
            .expect("policy numbers are checked when set")
    }

    pub fn flag(&self, key: &str) -> bool {
        self.raw(key) == "true"
    }

    /// The hours a role may work.
    pub fn hours(&self, role: Role) -> Hours {
        Hours::parse(self.raw(&format!("hours.{}", role.as_str())))
            .expect("hours are checked when set")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_parse_and_contain() {
        let h = Hours::parse("08:30-18:00").unwrap();
        assert!(h.contains(8 * 60 + 30) && h.contains(17 * 60 + 59));
        assert!(!h.contains(8 * 60 + 29) && !h.contains(18 * 60));
        assert_eq!(h.to_text(), "08:30-18:00");
        assert!(Hours::parse("00:00-24:00").unwrap().contains(23 * 60 + 59));
        for bad in ["", "8-18", "18:00-08:00", "08:60-09:00", "25:00-26:00", "x"] {
            assert!(Hours::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weekends_and_public_holidays_are_days_off() {
        let d = |y, m, day| chrono::NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert!(is_day_off(d(2026, 11, 23)), "勤労感謝の日");
        assert!(is_day_off(d(2026, 1, 1)), "元日");
        assert!(is_day_off(d(2026, 5, 6)), "振替休日");
        assert!(is_day_off(d(2026, 11, 28)), "Saturday");
        assert!(!is_day_off(d(2026, 11, 25)), "an ordinary Wednesday");
    }

    #[test]
    fn hours_and_holidays_decide_admission() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE policy (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            .unwrap();
        conn.execute("INSERT INTO policy VALUES ('hours.handler', '08:30-18:00'), ('hours.holidays', 'false')", [])
            .unwrap();
        let p = Policy::load(&conn).unwrap();
        let handler = crate::permission::Roles::parse("handler").unwrap();
        let officer = crate::permission::Roles::parse("officer").unwrap();
        let at = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
        assert!(check_hours(&p, &handler, None, at("2026-11-25T09:00:00+09:00")).is_ok());
        assert!(check_hours(&p, &handler, None, at("2026-11-25T07:59:00+09:00")).is_err());
        assert!(
            check_hours(&p, &handler, None, at("2026-11-23T09:00:00+09:00")).is_err(),
            "holiday"
        );
        assert!(check_hours(&p, &officer, None, at("2026-11-25T23:00:00+09:00")).is_ok());
        let own = Hours::parse("06:00-08:00").ok();
        assert!(check_hours(&p, &handler, own, at("2026-11-25T07:00:00+09:00")).is_ok());
        assert!(check_hours(&p, &handler, own, at("2026-11-25T09:00:00+09:00")).is_err());
    }

    #[test]
    fn every_default_passes_its_own_check() {
        for s in SETTINGS {
            (s.check)(s.default).unwrap();
        }
    }
}
