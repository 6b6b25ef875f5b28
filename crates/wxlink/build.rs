//! Takes the few Swagger UI files the REST API's docs page needs out of the release archive that
//! the `utoipa-swagger-ui-vendored` crate carries (nothing is downloaded), into `$OUT_DIR/swagger-ui/`,
//! where `rest::docs` embeds them. The archive also holds source maps and other bundles — about
//! 9 MB the page never loads, left out of the binary.
//!
//! On Linux with glibc it also asks the linker for packed relative relocations
//! ([`RELR`](link_args)).

use std::io::{Cursor, Read};
use std::path::Path;
use std::{env, fs};

/// The files kept, by name inside the archive's `dist/` folder or at its top.
const KEPT: [&str; 5] = [
    "dist/swagger-ui-bundle.js",
    "dist/swagger-ui.css",
    "dist/favicon-32x32.png",
    "dist/favicon-16x16.png",
    "LICENSE",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=build.rs");
    link_args();
    let out = Path::new(&env::var("OUT_DIR")?).join("swagger-ui");
    fs::create_dir_all(&out)?;
    let mut archive =
        zip::ZipArchive::new(Cursor::new(utoipa_swagger_ui_vendored::SWAGGER_UI_VENDORED))?;
    // Every entry sits under one top folder, `swagger-ui-<version>/`.
    let top = archive
        .file_names()
        .next()
        .and_then(|name| name.split('/').next())
        .ok_or("the Swagger UI archive is empty")?
        .to_owned();
    let version = top
        .strip_prefix("swagger-ui-")
        .ok_or("unexpected archive layout")?;
    println!("cargo:rustc-env=WXLINK_SWAGGER_UI_VERSION={version}");
    for kept in KEPT {
        let mut file = archive.by_name(&format!("{top}/{kept}"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(file.size())?);
        file.read_to_end(&mut bytes)?;
        let name = kept.rsplit('/').next().unwrap_or(kept);
        fs::write(out.join(name), bytes)?;
    }
    Ok(())
}

/// Packed relative relocations (`DT_RELR`) for the binary: the position-independent executable
/// has about 25,000 relative relocations, which as classic `RELA` entries are 600 KB the loader
/// reads at every start (resident memory of each process, `wxlink status` included); packed,
/// they take a few KB. The loaded program is the same.
///
/// Only where the loader knows the format: a native build on Linux with glibc 2.36 or later
/// (`getconf GNU_LIBC_VERSION`; the linker then makes the binary require that glibc, so an older
/// one refuses it with a clear error rather than misloading it). GNU ld 2.38+ and lld have the
/// option; an older GNU ld ignores it with a warning.
fn link_args() {
    let var = |key: &str| env::var(key).unwrap_or_default();
    let native = var("HOST") == var("TARGET");
    if !(native && var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu") {
        return;
    }
    let glibc = std::process::Command::new("getconf")
        .arg("GNU_LIBC_VERSION")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| glibc_version(&text));
    if glibc.is_some_and(|version| version >= (2, 36)) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// `(major, minor)` from `getconf GNU_LIBC_VERSION`'s "glibc 2.36".
fn glibc_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().strip_prefix("glibc ")?.split_once('.')?;
    let minor = minor.split(|c: char| !c.is_ascii_digit()).next()?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}
