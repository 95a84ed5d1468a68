//! Words the command prints for people, in Japanese and English, and
//! aligned tables. JSON output never goes through here.

use unicode_width::UnicodeWidthStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Ja,
    En,
}

impl Lang {
    /// `--lang`/`$KINKO_LANG` first, then the locale; English when unsure.
    pub fn pick(flag: Option<&str>) -> Lang {
        let from_locale = || {
            ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .filter_map(|k| std::env::var(k).ok())
                .find(|v| !v.is_empty())
                .unwrap_or_default()
        };
        let v = flag.map(str::to_string).unwrap_or_else(from_locale);
        if v.to_ascii_lowercase().starts_with("ja") {
            Lang::Ja
        } else {
            Lang::En
        }
    }

    /// Pick the Japanese or the English wording.
    pub fn t<'a>(self, ja: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Ja => ja,
            Lang::En => en,
        }
    }
}

/// Render rows as an aligned table (East Asian wide characters count two).
/// Text as a terminal may show it: a control character (an escape
/// sequence someone wrote into a name or a note, a line break in a cell)
/// becomes U+FFFD, so what is printed cannot move the cursor, retitle the
/// window or hide the lines around it.
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.width());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(widths[i] - c.width() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_print_no_control_characters() {
        let t = table(&["a"], &[vec!["x\u{1b}]0;owned\u{7}\ny".into()]]);
        assert!(!t.contains('\u{1b}') && !t.contains('\u{7}'), "{t:?}");
        assert_eq!(t.lines().count(), 2, "a cell stays on its line: {t:?}");
    }

    #[test]
    fn tables_align_wide_characters() {
        let t = table(
            &["ID", "名前"],
            &[
                vec!["a".into(), "田中".into()],
                vec!["bbbb".into(), "x".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[1].find("田中"), Some(6));
        assert_eq!(lines[2].find('x'), Some(6));
    }

    #[test]
    fn language_from_flag_or_locale() {
        assert_eq!(Lang::pick(Some("ja")), Lang::Ja);
        assert_eq!(Lang::pick(Some("en")), Lang::En);
        assert_eq!(Lang::pick(Some("ja_JP.UTF-8")), Lang::Ja);
    }
}
