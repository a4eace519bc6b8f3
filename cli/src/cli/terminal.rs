//! Values from the outside (event names, ids, errors, bodies) made safe to
//! print on a terminal: control characters (ESC sequences that recolour or
//! rewrite the screen, newlines that fake extra lines) and Unicode
//! direction overrides are escaped, and long values are cut. JSON output
//! (`--json`) and `--raw` keep the exact values.

/// Longest value shown in a table column or a `show` field (characters).
pub const FIELD_CHARS: usize = 200;
/// Longest value shown in the narrow columns of `inbox list`.
pub const COLUMN_CHARS: usize = 60;

/// Whether `c` must not reach a terminal as it is.
fn unsafe_char(c: char) -> bool {
    c.is_control()
        // Bidirectional overrides and isolates reorder what follows them.
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn escape_into(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push_str("\\\\"),
        c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        c => out.push(c),
    }
}

/// `value` on one line: control characters escaped (`\n`, `\u{1b}`, and
/// `\\` for a backslash, so that an escape cannot be faked), cut after
/// `max` characters with the number of characters left out.
pub fn field(value: &str, max: usize) -> String {
    let mut out = String::new();
    let mut chars = value.chars();
    for c in chars.by_ref().take(max) {
        escape_into(&mut out, c);
    }
    let rest = chars.count();
    if rest > 0 {
        out.push_str(&format!("… ({rest} more characters)"));
    }
    out
}

/// A body (or another multi-line text) for a terminal: newlines (also
/// CRLF) and tabs kept, every other control character escaped; not cut.
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            // A line end written as CRLF.
            '\r' if chars.peek() == Some(&'\n') => {}
            c if unsafe_char(c) => escape_into(&mut out, c),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_and_cuts() {
        assert_eq!(
            field("Order\u{1b}[2J\nIssued\\n", 100),
            "Order\\u{1b}[2J\\nIssued\\\\n"
        );
        assert_eq!(field("a\u{202e}b\u{7f}", 100), "a\\u{202e}b\\u{7f}");
        assert_eq!(field("abcdef", 3), "abc… (3 more characters)");
        assert_eq!(field("ääää", 4), "ääää");
        assert_eq!(
            text("{\r\n  \"a\": \"\u{1b}]0;x\u{7}\"\r}"),
            "{\n  \"a\": \"\\u{1b}]0;x\\u{7}\"\\r}"
        );
    }
}
