//! Takes the few Swagger UI files the REST API's docs page needs out of the release archive that
//! the `utoipa-swagger-ui-vendored` crate carries (nothing is downloaded), into `$OUT_DIR/swagger-ui/`,
//! where `rest::docs` embeds them. The archive also holds source maps and other bundles — about
//! 9 MB the page never loads, left out of the binary.
//!
//! It also passes the linker the options of [`link`]: packed relative relocations and the
//! order of the code that runs at start-up.

#[path = "build/link.rs"]
mod link;

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
    link::args();
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
