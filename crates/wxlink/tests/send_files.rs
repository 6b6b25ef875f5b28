//! Files to send: what is not a regular file is refused before anything reads it, files over
//! the size limit are refused before any upload, and large files stream to the fake CDN intact.

use std::time::Duration;

use wxlink::error::{AppError, ErrorKind};
use wxlink::service::send::{Attachment, SendRequest};
use wxlink::transfer::Unobserved;
use wxlink::upstream::FileKind;

mod common;
use common::*;

const USER: &str = "o9cq80files@im.wechat";

fn with_file(to: &str, kind: FileKind, path: &std::path::Path) -> SendRequest {
    SendRequest {
        to: to.into(),
        files: vec![Attachment::new(kind, path)],
        ..Default::default()
    }
}

fn mkfifo(path: &std::path::Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn special_files_are_refused_before_anything_reads_them() {
    let env = env().await;
    let bot = login_bot(&env, "default", USER).await;
    let user = first_message(&env, &bot, "hi").await;
    let fifo = env.dir.path().join("pipe");
    mkfifo(&fifo);
    let socket_path = env.dir.path().join("sock");
    let _socket = std::os::unix::net::UnixListener::bind(&socket_path).unwrap();
    let cases = [
        (fifo.clone(), "a FIFO"),
        ("/dev/zero".into(), "a device"),
        ("/dev/null".into(), "a device"),
        (env.dir.path().to_path_buf(), "a directory"),
        (socket_path, "a socket"),
    ];
    for (path, what) in cases {
        for kind in [
            FileKind::Image,
            FileKind::File,
            FileKind::Video,
            FileKind::Voice,
        ] {
            let req = with_file(&user, kind, &path);
            let send = env.app.send(&req, &Unobserved);
            let err = tokio::time::timeout(Duration::from_secs(5), send)
                .await
                .unwrap_or_else(|_| panic!("sending {} hung", path.display()))
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{err}");
            let text = err.to_string();
            assert!(
                text.contains(what) && text.contains("regular file"),
                "{text}"
            );
        }
    }
    assert!(env.fake.uploads().is_empty());
    assert!(env.fake.sent().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_over_the_limit_are_refused_and_the_rest_stream_intact() {
    let fake = ilink_fake::FakeIlink::start().await.unwrap();
    fake.configure(|c| c.hold_ms = 300);
    let dir = tempfile::tempdir().unwrap();
    let app = open_app_with(&fake, dir.path(), |o| {
        o.upstream.max_upload_bytes = Some(1024 * 1024);
    });
    let env = Env {
        fake: fake.into(),
        app,
        dir,
    };
    let bot = login_bot(&env, "default", USER).await;
    let user = first_message(&env, &bot, "hi").await;

    let big = env.dir.path().join("big.bin");
    std::fs::write(&big, vec![7u8; 1024 * 1024 + 1]).unwrap();
    let err = env
        .app
        .send(&with_file(&user, FileKind::File, &big), &Unobserved)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        AppError::FileTooLarge {
            size: 1048577,
            limit: 1048576,
            ..
        }
    ));
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert_eq!(err.kind().http_status(), 413);
    assert!(err.to_string().contains("limit 1.0 MB"), "{err}");
    assert!(env.fake.uploads().is_empty());

    // Sizes around the pieces uploads stream in (64 KiB) and the AES block (16 bytes).
    let sizes = [
        1usize,
        15,
        16,
        17,
        65_535,
        65_536,
        65_537,
        3 * 65_536,
        1024 * 1024,
    ];
    for (i, size) in sizes.iter().enumerate() {
        let path = env.dir.path().join(format!("f{i}.bin"));
        let content: Vec<u8> = (0..*size).map(|n| (n * 31 + i) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        if i > 0 && i % 9 == 0 {
            first_message(&env, &bot, "more quota").await;
        }
        let report = env
            .app
            .send(&with_file(&user, FileKind::File, &path), &Unobserved)
            .await
            .unwrap();
        assert_eq!(report.sent[0].size, Some(*size as u64));
        let uploaded = env.fake.uploads().pop().unwrap();
        assert_eq!(uploaded.plain.as_ref(), content.as_slice(), "size {size}");
        assert_eq!(uploaded.plain_md5, ilink::crypto::md5_hex(&content));
    }
}
