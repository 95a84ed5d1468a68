//! Reading a document inside the app (D4): the plaintext is decrypted into
//! memory and handed to the window, never to a file, a cache or a
//! thumbnail. Only kinds the app can render from memory are viewable;
//! anything else can only leave through an export, under the export rules.
//! Viewing is an access like any other: it is checked and logged.

use serde::Serialize;
use zeroize::Zeroizing;

/// Larger documents are not held in memory for viewing; they can be
/// exported under the export rules instead.
pub const VIEW_LIMIT: u64 = 64 * 1024 * 1024;

/// What the viewer can render from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum ViewKind {
    Pdf,
    Png,
    Jpeg,
    Gif,
    Webp,
    Text,
    Csv,
}

impl ViewKind {
    /// The kind a file name announces; None for anything not viewable.
    pub fn from_name(file_name: &str) -> Option<ViewKind> {
        let ext = file_name.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "pdf" => ViewKind::Pdf,
            "png" => ViewKind::Png,
            "jpg" | "jpeg" => ViewKind::Jpeg,
            "gif" => ViewKind::Gif,
            "webp" => ViewKind::Webp,
            "txt" | "text" | "log" | "md" => ViewKind::Text,
            "csv" | "tsv" => ViewKind::Csv,
            _ => return None,
        })
    }

    /// Does the content start as this kind must? A renamed file is shown
    /// as what it is not only if its first bytes agree with its name.
    pub(crate) fn matches(self, content: &[u8]) -> bool {
        match self {
            ViewKind::Pdf => content.starts_with(b"%PDF-"),
            ViewKind::Png => content.starts_with(b"\x89PNG\r\n\x1a\n"),
            ViewKind::Jpeg => content.starts_with(b"\xff\xd8\xff"),
            ViewKind::Gif => content.starts_with(b"GIF87a") || content.starts_with(b"GIF89a"),
            ViewKind::Webp => {
                content.len() >= 12 && &content[..4] == b"RIFF" && &content[8..12] == b"WEBP"
            }
            // Text may be in any encoding the window can decode; it must
            // not carry NUL bytes, which no text or CSV file has.
            ViewKind::Text | ViewKind::Csv => !content.contains(&0),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ViewKind::Pdf => "pdf",
            ViewKind::Png => "png",
            ViewKind::Jpeg => "jpeg",
            ViewKind::Gif => "gif",
            ViewKind::Webp => "webp",
            ViewKind::Text => "text",
            ViewKind::Csv => "csv",
        }
    }
}

/// A document opened for viewing: its bytes live only in this value and
/// are wiped when it is dropped.
pub struct View {
    pub id: i64,
    pub title: String,
    pub kind: ViewKind,
    pub bytes: Zeroizing<Vec<u8>>,
    /// Who is viewing and when, for the watermark over every page.
    pub viewer: String,
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_name_and_must_match_the_content() {
        assert_eq!(ViewKind::from_name("a.PDF"), Some(ViewKind::Pdf));
        assert_eq!(ViewKind::from_name("名簿.csv"), Some(ViewKind::Csv));
        assert_eq!(ViewKind::from_name("a.docx"), None);
        assert_eq!(ViewKind::from_name("noextension"), None);
        assert!(ViewKind::Pdf.matches(b"%PDF-1.7\n"));
        assert!(!ViewKind::Pdf.matches(b"<html>"));
        assert!(ViewKind::Png.matches(b"\x89PNG\r\n\x1a\n...."));
        assert!(!ViewKind::Text.matches(b"MZ\0\0"));
        assert!(ViewKind::Csv.matches("氏名,住所".as_bytes()));
    }
}
