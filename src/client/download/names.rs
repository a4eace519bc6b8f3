//! The file-name policy of downloads (see
//! [`Download`](crate::client::Download#file-names)).

use reqwest::header::{HeaderMap, CONTENT_DISPOSITION};

/// Windows device names, refused as file stems on every platform so that a
/// download directory can be shared or copied to Windows.
const RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];
/// The longest file name made, in bytes (most file systems allow 255).
const MAX_NAME_BYTES: usize = 200;

/// The name a downloaded file gets in a directory: the first candidate that
/// is still a name after [`safe_file_name`].
pub(super) fn choose(candidates: &[Option<&str>]) -> String {
    candidates
        .iter()
        .flatten()
        .find_map(|name| safe_file_name(name))
        .unwrap_or_else(|| "document".to_owned())
}

/// Reduces a document's file name to one that is safe to join to a
/// directory, or `None` when nothing usable is left.
///
/// * only the last path component is kept (`../../etc/passwd` → `passwd`,
///   `a\b.pdf` → `b.pdf`), so a file never lands outside the directory;
/// * control characters and `< > : " | ? *` become `_`;
/// * leading dots go (no hidden files, no `..`), and so do trailing dots
///   and spaces (Windows drops them);
/// * Windows device names (`CON`, `NUL`, `COM1`, ...) get a leading `_`;
/// * names longer than 200 bytes are cut, keeping an extension of up to 16
///   bytes.
///
/// ```
/// use tradecloud::client::safe_file_name;
///
/// assert_eq!(safe_file_name("Drawing 12.pdf").as_deref(), Some("Drawing 12.pdf"));
/// assert_eq!(safe_file_name("../../etc/passwd").as_deref(), Some("passwd"));
/// assert_eq!(safe_file_name("rates: 2025?.xlsx").as_deref(), Some("rates_ 2025_.xlsx"));
/// assert_eq!(safe_file_name("CON.txt").as_deref(), Some("_CON.txt"));
/// assert_eq!(safe_file_name(".."), None);
/// ```
pub fn safe_file_name(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned
        .trim()
        .trim_start_matches('.')
        .trim_end_matches(['.', ' '])
        .trim();
    if trimmed.is_empty() {
        return None;
    }
    let mut result = trimmed.to_owned();
    let stem = result
        .split('.')
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    if RESERVED.contains(&stem.as_str()) {
        result.insert(0, '_');
    }
    if result.len() > MAX_NAME_BYTES {
        let extension = match result.rfind('.') {
            Some(dot) if result.len() - dot <= 16 => result[dot..].to_owned(),
            _ => String::new(),
        };
        let mut cut = MAX_NAME_BYTES - extension.len();
        while !result.is_char_boundary(cut) {
            cut -= 1;
        }
        result.truncate(cut);
        result.push_str(&extension);
    }
    Some(result)
}

/// The file name of a `Content-Disposition` header (`filename*=UTF-8''...`
/// wins over `filename="..."`).
pub(super) fn from_disposition(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(CONTENT_DISPOSITION)?.to_str().ok()?;
    let mut plain = None;
    for part in value.split(';').map(str::trim) {
        let Some((key, raw)) = part.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = raw.trim().splitn(3, '\'').nth(2)?;
                return Some(percent_decode(encoded));
            }
            "filename" => plain = Some(raw.trim().trim_matches('"').to_owned()),
            _ => {}
        }
    }
    plain
}

/// The last non-empty path segment of a URL, percent-decoded.
pub(super) fn from_url(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    let segment = parsed.path_segments()?.rev().find(|s| !s.is_empty())?;
    Some(percent_decode(segment))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(byte) = hex {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn filenames_cannot_escape_the_directory() {
        assert_eq!(safe_file_name("test.pdf").as_deref(), Some("test.pdf"));
        assert_eq!(
            safe_file_name("..\\..\\boot.ini").as_deref(),
            Some("boot.ini")
        );
        assert_eq!(safe_file_name("/").as_deref(), None);
        assert_eq!(safe_file_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(
            safe_file_name("a\u{0}b:c?.pdf").as_deref(),
            Some("a_b_c_.pdf")
        );
        assert_eq!(safe_file_name("report. ").as_deref(), Some("report"));
        let long = format!("{}.pdf", "é".repeat(300));
        let short = safe_file_name(&long).unwrap();
        assert!(short.len() <= 200 && short.ends_with(".pdf"));
        assert_eq!(choose(&[None, Some(".."), Some("x.pdf")]), "x.pdf");
        assert_eq!(choose(&[Some("/")]), "document");
    }

    #[test]
    fn names_from_headers_and_urls() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_static("attachment; filename=\"a b.pdf\""),
        );
        assert_eq!(from_disposition(&headers).as_deref(), Some("a b.pdf"));
        headers.insert(
            CONTENT_DISPOSITION,
            HeaderValue::from_static(
                "attachment; filename=\"x.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf",
            ),
        );
        assert_eq!(from_disposition(&headers).as_deref(), Some("€ rates.pdf"));
        assert_eq!(
            from_url("http://buyer.com/content/manual%201.pdf?x=1").as_deref(),
            Some("manual 1.pdf")
        );
        assert_eq!(percent_decode("100%"), "100%");
    }
}
