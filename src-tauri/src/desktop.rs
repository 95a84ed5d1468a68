//! Telling the desktop: a notification (freedesktop.org, over the
//! session's D-Bus, a local socket) when new alerts are raised, so the
//! officer or auditor hears of them without looking at the window (A5).
//! It names how many and which rules, never who or what: a notification
//! may be seen by anyone passing the screen.

use kinko_core::audit::alerts::Alert;

/// Tell the desktop of `fresh` alerts, if any. Off the caller's thread,
/// and best effort: a desktop without a notification service (or without
/// a session bus) shows nothing, and the badge in the window still does.
pub fn tell_of_alerts(fresh: &[Alert]) {
    if fresh.is_empty() {
        return;
    }
    let body = alert_body(fresh);
    std::thread::spawn(move || {
        let _ = notify_rust::Notification::new()
            .appname("Kinko")
            .summary("Kinko: アラート / Alerts")
            .body(&body)
            .show();
    });
}

/// "新しいアラート 2 件 (bulk_access, failed_signins)" in both languages.
fn alert_body(fresh: &[Alert]) -> String {
    let mut rules: Vec<&str> = fresh.iter().map(|a| a.rule.as_str()).collect();
    rules.sort_unstable();
    rules.dedup();
    let rules = rules.join(", ");
    format!(
        "新しいアラート {n} 件 ({rules})\n{n} new alert(s) ({rules})",
        n = fresh.len()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_names_rules_not_people() {
        let alert = |id: i64, rule: &str| Alert {
            id,
            rule: rule.into(),
            actor: "tanaka".into(),
            object: "document:3".into(),
            seq: id,
            at: "2026-12-07T00:00:00Z".into(),
            summary: "tanaka viewed or exported documents 21 times".into(),
            acked_by: None,
            acked_at: None,
            ack_note: None,
        };
        let body = alert_body(&[
            alert(1, "failed_signins"),
            alert(2, "bulk_access"),
            alert(3, "bulk_access"),
        ]);
        assert!(
            body.starts_with("新しいアラート 3 件 (bulk_access, failed_signins)"),
            "{body}"
        );
        assert!(
            !body.contains("tanaka") && !body.contains("document"),
            "{body}"
        );
    }
}
