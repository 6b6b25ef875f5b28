//! How commands print: JSON on stdout with `--json`, readable text otherwise; errors as
//! `{"error": {"kind", "message"}}` on stdout in JSON mode, `wxlink: …` on stderr otherwise.

use std::io::{IsTerminal, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::{json, Value};

use crate::error::AppError;
use crate::store::{Direction, MessageStatus, StoredMessage};
use crate::timefmt::{now_ms, relative};

/// The output mode of this run.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// `--json` was given.
    pub json: bool,
}

impl Output {
    /// An output in the given mode.
    pub fn new(json: bool) -> Self {
        Output { json }
    }

    /// Prints a JSON value on one line.
    pub fn print_json(&self, v: &Value) {
        print_stdout(&v.to_string());
    }

    /// Prints a line of human text (ignored in JSON mode).
    pub fn line(&self, text: &str) {
        if !self.json {
            print_stdout(text);
        }
    }

    /// Reports an error.
    pub fn error(&self, e: &AppError) {
        if matches!(e, AppError::Reported(_)) {
            return;
        }
        if self.json {
            self.print_json(
                &json!({"error": {"kind": e.kind().as_str(), "message": e.to_string()}}),
            );
        } else {
            eprintln!("wxlink: {e}");
        }
    }

    /// Whether progress and spinners may be drawn (a terminal on stderr, human mode).
    pub fn interactive(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }

    /// A table with the project's style.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut t = Table::new();
        t.load_preset(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(header.to_vec());
        t
    }

    /// Prints messages as a table (human mode).
    pub fn messages(&self, messages: &[StoredMessage]) {
        let now = now_ms();
        let mut t = self.table(&["id", "when", "session", "", "user", "type", "text"]);
        for m in messages {
            let msg = &m.message;
            t.add_row(vec![
                m.id.to_string(),
                relative(msg.created_at_ms, now),
                msg.session.clone(),
                match msg.direction {
                    Direction::In => "←".into(),
                    Direction::Out => "→".into(),
                },
                msg.peer.clone(),
                if msg.status == MessageStatus::Failed {
                    format!("{} (failed)", msg.kind)
                } else {
                    msg.kind.clone()
                },
                summary(msg.text.as_deref().unwrap_or(""), 80),
            ]);
        }
        print_stdout(&t.to_string());
    }
}

/// Writes `text` and a newline to stdout. When the reader has gone away (`wxlink history |
/// head`), the run ends quietly with success, as `head` asked for no more; other write
/// failures end it with an error message instead of a panic.
pub fn print_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let written = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("wxlink: cannot write to stdout: {e}");
            std::process::exit(i32::from(crate::error::EXIT_FAILURE));
        }
    }
}

/// The first `max` characters of a text on one line.
pub fn summary(text: &str, max: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    if one_line.chars().count() > max {
        let mut s: String = one_line.chars().take(max - 1).collect();
        s.push('…');
        s
    } else {
        one_line
    }
}
