//! Linker options for the `wxlink` binary that cut what each process has resident, with the
//! program itself unchanged:
//!
//! - **Packed relative relocations** (`DT_RELR`): the position-independent executable has about
//!   25,000 relative relocations, which as classic `RELA` entries are 600 KB the loader reads at
//!   every start; packed, they take a few KB.
//! - **Start-up code together** (`link-order.txt`, lld's `--symbol-ordering-file`): the
//!   functions that run when a server starts and idles, or a command such as `status` runs, are
//!   laid out side by side at the start of the text instead of spread over its 16 MB. The kernel
//!   maps code 64 KB around each first touch (fault-around), so spread-out code kept 10 MB of
//!   the text resident for 2.6 MB that ran (`bench/idle_code.py`). The list names symbols as this
//!   toolchain mangles them; `python3 bench/idle_code.py BIN --write-order` writes it again (after
//!   a toolchain, dependency or version change, names it lists no longer match and the linker
//!   skips them: the binary is the same, only laid out as before).
//!
//! Each is used only where the toolchain takes it, so a build never fails for it.

use std::path::Path;
use std::process::Command;
use std::{env, fs};

/// Prints the `cargo:` lines that pass the options the linker takes.
pub fn args() {
    println!("cargo:rerun-if-changed=link-order.txt");
    // What the probe link depends on: a change of flags or linker probes again.
    for key in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "RUSTC_LINKER"] {
        println!("cargo:rerun-if-env-changed={key}");
    }
    if var("CARGO_CFG_TARGET_OS") != "linux" {
        return;
    }
    if var("CARGO_CFG_TARGET_ENV") == "gnu" && var("HOST") == var("TARGET") && glibc_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    let order = Path::new(&var("CARGO_MANIFEST_DIR")).join("link-order.txt");
    let order_arg = format!("-Wl,--symbol-ordering-file={}", order.display());
    let quiet = "-Wl,--no-warn-symbol-ordering";
    if order.is_file() && linker_takes(&[&order_arg, quiet]) {
        println!("cargo:rustc-link-arg-bins={order_arg}");
        println!("cargo:rustc-link-arg-bins={quiet}");
    }
}

/// A variable cargo sets for build scripts, empty when unset.
fn var(key: &str) -> String {
    env::var(key).unwrap_or_default()
}

/// Whether the C library loads `DT_RELR`: glibc 2.36 or later (`getconf GNU_LIBC_VERSION`).
/// The linker then makes the binary require that glibc, so an older one refuses it with a
/// clear error rather than misloading it.
fn glibc_has_relr() -> bool {
    Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| glibc_version(&text))
        .is_some_and(|version| version >= (2, 36))
}

/// `(major, minor)` from `getconf GNU_LIBC_VERSION`'s "glibc 2.36".
fn glibc_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor = minor.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// Whether the linker this build uses accepts `link_args`: links an empty program with them,
/// with the same compiler, target, flags and linker as the real build. (GNU ld, the default
/// before Rust 1.90, has no `--symbol-ordering-file`; lld, the default since, has.)
fn linker_takes(link_args: &[&str]) -> bool {
    let Ok(out_dir) = env::var("OUT_DIR") else {
        return false;
    };
    let dir = Path::new(&out_dir).join("linker-probe");
    let source = dir.join("probe.rs");
    if fs::create_dir_all(&dir).is_err() || fs::write(&source, "fn main() {}\n").is_err() {
        return false;
    }
    let mut rustc = Command::new(env::var("RUSTC").unwrap_or_else(|_| "rustc".into()));
    rustc
        .args(["--crate-type", "bin", "--target", &var("TARGET"), "-o"])
        .arg(dir.join("probe"))
        .arg(&source);
    for flag in var("CARGO_ENCODED_RUSTFLAGS")
        .split('\x1f')
        .filter(|f| !f.is_empty())
    {
        rustc.arg(flag);
    }
    if let Ok(linker) = env::var("RUSTC_LINKER") {
        rustc.arg(format!("-Clinker={linker}"));
    }
    for arg in link_args {
        rustc.arg(format!("-Clink-arg={arg}"));
    }
    rustc
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
