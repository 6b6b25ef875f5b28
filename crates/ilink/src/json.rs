//! Reading JSON the server wrote, whatever it wrote: escapes that are not Unicode repaired
//! before parsing, and bodies read up to a size limit.
//!
//! `serde_json` refuses a string holding an unpaired surrogate escape (`"\ud83d"`, which
//! JavaScript writes when it cuts an emoji in half), and with it the whole body. Such an
//! escape names no character, so it becomes U+FFFD (`\ufffd`), the replacement character,
//! as every lossy UTF-16 decoder does; everything else is left byte for byte.

use std::borrow::Cow;

/// `input` with every unpaired surrogate escape (`\uD800`–`\uDFFF` not forming a high-low
/// pair) replaced by `\uFFFD`. Borrowed when there is none (the common case).
pub fn repair_lone_surrogates(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0; // input[..copied] is in `out` already
    let mut i = 0;
    while i < input.len() {
        if input[i] != b'\\' {
            i += 1;
            continue;
        }
        // A backslash starts an escape (JSON has none outside strings); `\\` is skipped as a
        // pair so that `\\ud83d` (a backslash, then text) is not mistaken for an escape.
        if input.get(i + 1) != Some(&b'u') {
            i += 2;
            continue;
        }
        let Some(unit) = hex4(input, i + 2) else {
            i += 2;
            continue;
        };
        let lone = match unit {
            0xD800..=0xDBFF => {
                let low = (input.get(i + 6) == Some(&b'\\') && input.get(i + 7) == Some(&b'u'))
                    .then(|| hex4(input, i + 8))
                    .flatten();
                if low.is_some_and(|l| (0xDC00..=0xDFFF).contains(&l)) {
                    i += 12; // a proper pair
                    continue;
                }
                true
            }
            0xDC00..=0xDFFF => true,
            _ => false,
        };
        if lone {
            let buf = out.get_or_insert_with(|| Vec::with_capacity(input.len()));
            buf.extend_from_slice(&input[copied..i]);
            buf.extend_from_slice(b"\\ufffd");
            copied = i + 6;
        }
        i += 6;
    }
    match out {
        None => Cow::Borrowed(input),
        Some(mut buf) => {
            buf.extend_from_slice(&input[copied.min(input.len())..]);
            Cow::Owned(buf)
        }
    }
}

/// The four hex digits at `at`, as a number.
fn hex4(input: &[u8], at: usize) -> Option<u16> {
    let digits = input.get(at..at + 4)?;
    let text = std::str::from_utf8(digits).ok()?;
    if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u16::from_str_radix(text, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repaired(s: &str) -> String {
        String::from_utf8(repair_lone_surrogates(s.as_bytes()).into_owned()).unwrap()
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        assert_eq!(repaired(r#"{"a":"x\ud83d"}"#), r#"{"a":"x\ufffd"}"#);
        assert_eq!(repaired(r#"{"a":"\ude00y"}"#), r#"{"a":"\ufffdy"}"#);
        assert_eq!(repaired(r#"["\ud83d\u0041"]"#), r#"["\ufffd\u0041"]"#);
        assert_eq!(
            repaired(r#"["\uD83D\uD83D\uDE00"]"#),
            r#"["\ufffd\uD83D\uDE00"]"#
        );
        let v: serde_json::Value =
            serde_json::from_slice(&repair_lone_surrogates(br#"{"t":"hi \ud83d!"}"#)).unwrap();
        assert_eq!(v["t"], "hi \u{FFFD}!");
    }

    #[test]
    fn everything_else_is_left_alone() {
        for s in [
            r#"{"a":"\ud83d\ude00"}"#,
            r#"{"a":"\\ud83d"}"#,
            r#"{"a":"\u00e9\n\"\\"}"#,
            r#"{"a":"\u12"}"#,
            r#"\"#,
            r#"\u"#,
            "",
        ] {
            assert!(
                matches!(repair_lone_surrogates(s.as_bytes()), Cow::Borrowed(_)),
                "{s}"
            );
        }
    }

    #[test]
    fn a_surrogate_at_the_very_end_is_repaired() {
        assert_eq!(repaired(r#""\ud83d"#), r#""\ufffd"#);
    }
}
