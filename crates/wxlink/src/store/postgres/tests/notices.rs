//! LISTEN/NOTIFY: a write on one handle wakes the receivers of another; a listener that lost
//! its connection reconnects and says `Resync`; rolled-back writes send nothing; the listener
//! stops with the last handle.

use std::time::Duration;

use tokio::sync::broadcast;

use super::*;
use crate::store::contract::{inbound, login, outbound};
use crate::store::{ImportedSession, Notice};

/// The next notice, within 5 s.
async fn next(rx: &mut broadcast::Receiver<Notice>) -> Notice {
    tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a notice within 5 s")
        .expect("the channel is open")
}

/// The next notice that is not `Sessions` (writes that log in send one first).
async fn next_not_sessions(rx: &mut broadcast::Receiver<Notice>) -> Notice {
    loop {
        let notice = next(rx).await;
        if notice != Notice::Sessions {
            return notice;
        }
    }
}

/// How many listening connections the database has.
fn listeners(db: &PgFixture) -> usize {
    db.psql(&format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'wxlink-listen' \
         AND datname = '{}'",
        db.db
    ))
    .parse()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_handle_reaches_another_and_resyncs_after_a_lost_connection() {
    let db = PgFixture::new();
    let (a, b) = (db.pg().await, db.pg().await);
    let mut rx = b.notices().expect("PostgreSQL pushes notices");

    a.save_login("main", &login("bot", "t")).await.unwrap();
    assert_eq!(next(&mut rx).await, Notice::Sessions);
    let ids = a
        .ingest("main", vec![inbound("main", "1", "u", "hi", 1)], "c")
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Notice::Messages { latest_id: ids[0] });
    // A cursor-only ingest stores no message: no notice. A send does.
    a.ingest("main", vec![], "c2").await.unwrap();
    let sent = a
        .record_outbound(outbound("main", "c1", "u", "yo", 2))
        .await
        .unwrap();
    assert_eq!(next(&mut rx).await, Notice::Messages { latest_id: sent });
    for change in 0..3 {
        match change {
            0 => a.set_problem("main", Some("down")).await.unwrap(),
            1 => a.set_default("main").await.unwrap(),
            _ => a.rename_session("main", "work").await.unwrap(),
        }
        assert_eq!(next(&mut rx).await, Notice::Sessions, "change {change}");
    }
    // A dry-run import is rolled back: nothing is sent for it.
    let dry = ImportedSession {
        name: "other".into(),
        login: None,
        cursor: String::new(),
        created_at_ms: None,
        contexts: vec![],
        messages: vec![inbound("other", "9", "u", "x", 3)],
        make_default: false,
    };
    a.import_session(dry, true).await.unwrap();
    a.set_status("work", crate::store::SessionStatus::Expired)
        .await
        .unwrap();
    assert_eq!(
        next(&mut rx).await,
        Notice::Sessions,
        "the dry run sent nothing"
    );

    // The listeners' connections are cut: each reconnects and says Resync.
    assert_eq!(listeners(&db), 2);
    db.psql(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE application_name = 'wxlink-listen' AND datname = '{}'",
        db.db
    ));
    assert_eq!(next(&mut rx).await, Notice::Resync);
    let ids = a
        .ingest("work", vec![inbound("work", "2", "u", "again", 4)], "c")
        .await
        .unwrap();
    assert_eq!(
        next_not_sessions(&mut rx).await,
        Notice::Messages { latest_id: ids[0] }
    );

    // The last handle gone, its listener stops (and its connection closes).
    drop(b);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while listeners(&db) != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "b's listener still connected"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    loop {
        match tokio::time::timeout(Duration::from_secs(5), rx.recv()).await {
            Ok(Err(broadcast::error::RecvError::Closed)) => break,
            Ok(_) => continue,
            Err(_) => panic!("b's channel still open after its listener stopped"),
        }
    }
    drop(a);
}
