//! What wxlink creates is private whatever the umask (files 0600, directories 0700), and an
//! existing data directory others can read is warned about, and made private on request.
//! (One test per binary: it changes the process's umask.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use ilink_fake::{FakeIlink, InboundSpec, ItemSpec};
use wxlink::service::pollers::Pollers;
use wxlink::transfer::Unobserved;

mod common;
use common::*;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_wxlink_creates_is_private_whatever_the_umask() {
    // SAFETY: umask has no memory effects; this binary runs no other test.
    unsafe { libc::umask(0) };
    let fake = FakeIlink::start().await.unwrap();
    fake.configure(|c| c.hold_ms = 300);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("fresh").join("data");
    let app = open_app(&fake, &data);
    let env = Env {
        fake: fake.into(),
        app,
        dir,
    };
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(data.parent().unwrap()), 0o700);
    assert_eq!(mode(&data.join("wxlink.db")), 0o600);

    let bot = login_bot(&env, "default", "o9cq80modes@im.wechat").await;
    let pollers = Pollers::start(env.app.clone());
    inject(
        &env.fake,
        &bot,
        InboundSpec::item(ItemSpec::media("image", b"\x89PNG")),
    );
    let got = recv_n(&env.app, "default", 1).await;
    let id = got[0].id.to_string();
    let saved = env.dir.path().join("saved").join("deep");
    let files = env
        .app
        .download(&id, Some(&saved), &Unobserved)
        .await
        .unwrap();
    assert_eq!(mode(&saved), 0o700);
    assert_eq!(mode(&env.dir.path().join("saved")), 0o700);
    assert_eq!(mode(Path::new(&files[0].path)), 0o600);
    let files = env.app.download(&id, None, &Unobserved).await.unwrap();
    assert_eq!(mode(&data.join("media")), 0o700);
    assert_eq!(mode(Path::new(&files[0].path)), 0o600);
    pollers.shutdown().await;
    for lock in std::fs::read_dir(data.join("locks")).unwrap() {
        let lock = lock.unwrap().path();
        assert_eq!(mode(&lock), 0o600, "{}", lock.display());
    }
    assert_eq!(mode(&data.join("locks")), 0o700);

    // A data directory others can read: a warning, until --fix-permissions.
    let open = env.dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wxlink"))
            .arg("-d")
            .arg(&open)
            .args(extra)
            .arg("status")
            .env_remove("WXLINK_HOME")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is mode 755") && stderr.contains("--fix-permissions"),
        "{stderr}"
    );
    assert_eq!(mode(&open), 0o755, "only warned about");
    assert_eq!(mode(&open.join("wxlink.db")), 0o600);
    let out = run(&["--fix-permissions"]);
    assert!(out.status.success());
    assert_eq!(mode(&open), 0o700);
    let out = run(&[]);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("is mode"));
}
