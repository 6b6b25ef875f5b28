//! The URL's TLS options that tokio-postgres does not know — `sslrootcert` and
//! `sslmode=verify-ca|verify-full` — taken out of a `postgres://…?…` URL or a libpq
//! `key=value …` string before tokio-postgres reads the rest.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

/// The URL's options tokio-postgres does not know.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Extra {
    /// `sslmode=verify-ca`.
    pub(super) verify_ca: bool,
    /// `sslrootcert`.
    pub(super) root_cert: Option<String>,
}

/// What becomes of one of the URL's options.
enum Action {
    Keep,
    /// `sslmode=verify-*`: `sslmode=require` for tokio-postgres.
    Require,
    /// `sslrootcert`: not for tokio-postgres.
    Drop,
}

impl Extra {
    /// Notes what `key=value` says and how it is passed on.
    fn take(&mut self, key: &str, value: &str) -> Action {
        match (key, value) {
            ("sslrootcert", _) => {
                self.root_cert = Some(value.to_owned());
                Action::Drop
            }
            ("sslmode", _) => {
                // The last one counts, as in tokio-postgres.
                self.verify_ca = value == "verify-ca";
                match value {
                    "verify-ca" | "verify-full" => Action::Require,
                    _ => Action::Keep,
                }
            }
            _ => Action::Keep,
        }
    }
}

/// `url` without `sslrootcert`, with `sslmode=verify-*` as `sslmode=require`, and what they
/// said. A URL that does not parse is passed on whole: tokio-postgres says what is wrong.
pub(super) fn split_options(url: &str) -> (Cow<'_, str>, Extra) {
    let mut extra = Extra::default();
    let mut changed = false;
    let mut kept: Vec<Cow<'_, str>> = Vec::new();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        // As tokio-postgres reads it: the credentials end at the first `@`, the query starts
        // at the next `?`.
        let after_credentials = url.find('@').map_or(0, |at| at + 1);
        let Some(query) = url[after_credentials..].find('?') else {
            return (Cow::Borrowed(url), extra);
        };
        let (base, query) = url.split_at(after_credentials + query + 1);
        let decoded = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        for piece in query.split('&') {
            let (key, value) = piece.split_once('=').unwrap_or((piece, ""));
            match extra.take(&decoded(key), &decoded(value)) {
                Action::Keep => kept.push(Cow::Borrowed(piece)),
                Action::Require => {
                    changed = true;
                    kept.push(Cow::Owned(format!("{key}=require")));
                }
                Action::Drop => changed = true,
            }
        }
        if !changed {
            return (Cow::Borrowed(url), extra);
        }
        let url = format!("{base}{}", kept.join("&"));
        let url = url.strip_suffix('?').map(str::to_owned).unwrap_or(url);
        return (Cow::Owned(url), extra);
    }
    let Some(pairs) = keyword_pairs(url) else {
        return (Cow::Borrowed(url), extra);
    };
    for (key, value) in &pairs {
        let value = match extra.take(key, value) {
            Action::Keep => value.as_str(),
            Action::Require => {
                changed = true;
                "require"
            }
            Action::Drop => {
                changed = true;
                continue;
            }
        };
        let quoted = value.replace('\\', "\\\\").replace('\'', "\\'");
        kept.push(Cow::Owned(format!("{key}='{quoted}'")));
    }
    if !changed {
        return (Cow::Borrowed(url), extra);
    }
    (Cow::Owned(kept.join(" ")), extra)
}

/// The pairs of a libpq `key=value` string, read as tokio-postgres reads them; `None` when it
/// does not parse.
fn keyword_pairs(s: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    let mut chars = s.chars().peekable();
    let skip_ws = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
    };
    loop {
        skip_ws(&mut chars);
        if chars.peek().is_none() {
            return Some(pairs);
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        skip_ws(&mut chars);
        chars.next_if_eq(&'=')?;
        skip_ws(&mut chars);
        let quoted = chars.next_if_eq(&'\'').is_some();
        let mut value = String::new();
        loop {
            match chars.peek().copied() {
                Some('\'') if quoted => {
                    chars.next();
                    break;
                }
                Some(c) if quoted || !c.is_whitespace() => {
                    chars.next();
                    value.push(if c == '\\' { chars.next()? } else { c });
                }
                None if quoted => return None,
                _ => break,
            }
        }
        pairs.push((key, value));
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn split(url: &str) -> (String, Extra) {
        let (rest, extra) = split_options(url);
        (rest.into_owned(), extra)
    }

    #[test]
    fn urls_lose_what_tokio_postgres_does_not_know() {
        let plain = "postgres://u:p%3F@h:5432/db?sslmode=require&application_name=x";
        assert_eq!(split(plain), (plain.to_owned(), Extra::default()));
        let (rest, extra) = split("postgres://u:p?x@h/db?sslrootcert=%2Fca%20dir%2Fca.pem");
        assert_eq!(rest, "postgres://u:p?x@h/db");
        assert_eq!(extra.root_cert.as_deref(), Some("/ca dir/ca.pem"));
        let (rest, extra) =
            split("postgresql://h/db?sslmode=verify-ca&sslrootcert=/ca.pem&connect_timeout=3");
        assert_eq!(rest, "postgresql://h/db?sslmode=require&connect_timeout=3");
        assert!(extra.verify_ca);
        let (rest, extra) = split("postgres://h/db?sslmode=verify-full");
        assert_eq!(rest, "postgres://h/db?sslmode=require");
        assert!(!extra.verify_ca);
        let (rest, extra) = split("postgres://h/db?sslmode=verify-ca&sslmode=require");
        assert_eq!(rest, "postgres://h/db?sslmode=require&sslmode=require");
        assert!(!extra.verify_ca, "the last sslmode counts");
    }

    #[test]
    fn keyword_strings_too() {
        let plain = "host=h dbname=db sslmode=require";
        assert_eq!(split(plain), (plain.to_owned(), Extra::default()));
        let (rest, extra) =
            split(r"host = h password='it\'s a\\ secret' sslrootcert=/c\ a.pem sslmode=verify-ca");
        assert_eq!(
            rest,
            r"host='h' password='it\'s a\\ secret' sslmode='require'"
        );
        assert_eq!(extra.root_cert.as_deref(), Some("/c a.pem"));
        assert!(extra.verify_ca);
        let config = tokio_postgres::Config::from_str(&rest).unwrap();
        assert_eq!(config.get_password(), Some(&b"it's a\\ secret"[..]));
        // What does not parse goes to tokio-postgres whole.
        assert_eq!(split("host='h").0, "host='h");
    }
}
