//! The temporary HOME the `wxlink setup` tests run the binary in (HOME, XDG_CONFIG_HOME,
//! CODEX_HOME, CLAUDE_CONFIG_DIR and WXLINK_* set or cleared on the spawned process, an empty
//! PATH), with file helpers and a snapshot of every file under it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_wxlink");

pub struct Home {
    pub dir: tempfile::TempDir,
    pub env: Vec<(&'static str, PathBuf)>,
}

pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Home {
    pub fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let env = vec![("XDG_CONFIG_HOME", dir.path().join(".config"))];
        Home { dir, env }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn json(&self, rel: &str) -> Value {
        serde_json::from_str(&self.read(rel)).unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        let empty_path = self.path(".empty-path");
        fs::create_dir_all(&empty_path).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            // No agent binary is found on PATH: `all` goes by config directories only.
            .env("PATH", &empty_path);
        for var in [
            "XDG_CONFIG_HOME",
            "CODEX_HOME",
            "CLAUDE_CONFIG_DIR",
            "WXLINK_HOME",
            "WXLINK_ILINK_BASE",
            "WXLINK_CDN_BASE",
            "WXLINK_RETAIN_DAYS",
            "WXLINK_RETAIN_ROWS",
            "WXLINK_MAX_UPLOAD_MB",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(r.code, Some(0), "{args:?}\n{}\n{}", r.stdout, r.stderr);
        r.stdout
    }

    /// Every file under HOME with its bytes (the empty PATH directory left out).
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for e in fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.ends_with(".empty-path") {
                    continue;
                }
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.insert(p.clone(), fs::read(&p).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.dir.path(), &mut out);
        out
    }

    pub fn mode(&self, rel: &str) -> u32 {
        fs::metadata(self.path(rel)).unwrap().permissions().mode() & 0o777
    }
}

/// Runs setup twice and uninstall once; checks the second run changed nothing and said so,
/// and that uninstall gave every file in HOME back byte for byte (backups included: none left).
pub fn install_is_idempotent_and_uninstall_restores(home: &Home, args: &[&str]) {
    let before = home.snapshot();
    home.ok(args);
    let installed = home.snapshot();
    assert_ne!(before, installed, "{args:?} changed nothing");
    let again = home.ok(args);
    assert!(again.contains("already set up; nothing changed"), "{again}");
    assert_eq!(
        home.snapshot(),
        installed,
        "a second {args:?} changed files"
    );
    let mut uninstall = args.to_vec();
    uninstall.push("--uninstall");
    home.ok(&uninstall);
    assert_eq!(
        home.snapshot(),
        before,
        "{uninstall:?} did not restore HOME"
    );
    let nothing = home.ok(&uninstall);
    assert!(
        nothing.contains("nothing of wxlink's to remove"),
        "{nothing}"
    );
}
