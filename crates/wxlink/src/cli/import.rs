//! `wxlink import weilink [DIR]` and `wxlink import openclaw [DIR]` (`--dry-run`): the
//! sessions, context tokens and history of another tool, merged in (rules in
//! [`crate::service::import`]); a report per session, as text or `--json`.

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};

use super::Output;
use crate::error::AppResult;
use crate::service::import::{self, ImportReport, Source};
use crate::service::{Service, ServiceOptions};
use crate::store::SqliteStore;

/// Options of `wxlink import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    from: ImportFrom,
    /// Show what would be imported; write nothing.
    #[arg(long, global = true)]
    dry_run: bool,
}

#[derive(Debug, Subcommand)]
enum ImportFrom {
    /// WeiLink's data folder (default ~/.weilink): sessions, context tokens, messages.db.
    Weilink {
        /// The folder (WeiLink's `-d` / `base_path`).
        dir: Option<PathBuf>,
    },
    /// The OpenClaw Weixin plugin's state dir (default $OPENCLAW_STATE_DIR or ~/.openclaw).
    Openclaw {
        /// The state dir (the one holding `openclaw-weixin/`).
        dir: Option<PathBuf>,
    },
}

/// `wxlink import …`. Opens the store itself: a dry run into a data directory without a
/// database reads an empty one in memory instead of creating it.
pub async fn run(options: ServiceOptions, args: ImportArgs, out: &Output) -> AppResult<()> {
    let (source, dir) = match args.from {
        ImportFrom::Weilink { dir } => (Source::Weilink, dir),
        ImportFrom::Openclaw { dir } => (Source::Openclaw, dir),
    };
    let dir = dir.unwrap_or_else(|| source.default_dir());
    let in_memory = args.dry_run && !has_database(&options);
    let report = if in_memory {
        let store = SqliteStore::open_in_memory()?;
        import::run(&store, source, &dir, true).await?
    } else {
        let service: Arc<Service> = Service::connect(options).await?;
        import::run(service.store(), source, &dir, args.dry_run).await?
    };
    print(&report, out);
    Ok(())
}

/// Whether the store already exists (a PostgreSQL database always counts).
fn has_database(options: &ServiceOptions) -> bool {
    if options.database.is_some() {
        return true;
    }
    let root = options.data_dir.clone().unwrap_or_else(|| {
        std::env::home_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".wxlink")
    });
    root.join("wxlink.db").exists()
}

fn print(report: &ImportReport, out: &Output) {
    if out.json {
        out.print_json(&serde_json::to_value(report).unwrap_or_default());
        return;
    }
    let verb = if report.dry_run {
        "Would import"
    } else {
        "Imported"
    };
    out.line(&format!(
        "{verb} from {} ({}):",
        report.source.label(),
        report.dir.display()
    ));
    for s in &report.sessions {
        let Some(into) = &s.session else {
            out.line(&format!(
                "  {} ({}): skipped — {}",
                s.name,
                s.bot_id,
                s.skipped.as_deref().unwrap_or("")
            ));
            continue;
        };
        let target = if into == &s.name {
            format!("session {into:?}")
        } else {
            format!("into session {into:?} (same bot)")
        };
        let credentials = match s.credentials {
            "imported" if s.cursor => "logged in, polling continues where it stopped",
            "imported" => "logged in",
            "kept_existing" => "already logged in here: its own login kept",
            _ => "no credentials",
        };
        out.line(&format!(
            "  {} → {target}{}: {credentials}; context tokens {} ({} new); messages {} new, {} already here",
            s.name,
            if s.created { ", new" } else { "" },
            s.context_tokens,
            s.context_tokens_new,
            s.messages_new,
            s.messages_existing,
        ));
    }
    if let Some(default) = &report.default_session {
        out.line(&format!("Default session: {default}"));
    }
    for w in &report.warnings {
        out.line(&format!("Note: {w}"));
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::Cli;

    #[test]
    fn parses_both_sources_with_and_without_a_dir() {
        for args in [
            &["wxlink", "import", "weilink"][..],
            &["wxlink", "import", "weilink", "/tmp/wl", "--dry-run"][..],
            &["wxlink", "import", "openclaw", "--json", "-d", "/tmp/x"][..],
        ] {
            Cli::try_parse_from(args).expect("parses");
        }
        assert!(Cli::try_parse_from(["wxlink", "import", "nothing"]).is_err());
    }
}
