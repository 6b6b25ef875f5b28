//! Sends are recorded before they leave: a send the store cannot record never goes out, one
//! whose outcome cannot be recorded stays `pending` (then `unknown`) under the id it was
//! reported with, and one cut off in flight is in history with its quota spent.

use std::time::Duration;

use ilink_fake::FaultSpec;
use wxlink::model::MessageStatus;
use wxlink::service::send::SendRequest;
use wxlink::store::{Direction, HistoryQuery};
use wxlink::transfer::Unobserved;
use wxlink::upstream::FileKind;

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_that_cannot_be_recorded_does_not_go_out() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80dora@im.wechat").await;
    let user = first_message(&env, &bot, "hi").await;
    // Another connection makes recording sends fail, as a full disk would.
    let db = rusqlite::Connection::open(env.dir.path().join("wxlink.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fail_outbound BEFORE INSERT ON messages WHEN new.direction = 2 \
         BEGIN SELECT RAISE(ABORT, 'disk is full'); END;",
    )
    .unwrap();
    let err = env
        .app
        .send(&SendRequest::to(&user).text("never leaves"), &Unobserved)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("disk is full"), "{err}");
    assert!(env.fake.sent().is_empty(), "nothing leaves unrecorded");
    let ctx = env.app.store().contexts_for_user(&user).await.unwrap();
    assert_eq!(ctx[0].send_count, 0, "no quota spent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_whose_outcome_cannot_be_recorded_is_reported_and_stays_pending() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80dora@im.wechat").await;
    let user = first_message(&env, &bot, "hi").await;
    let photo = env.dir.path().join("p.png");
    std::fs::write(&photo, b"\x89PNG").unwrap();
    let db = rusqlite::Connection::open(env.dir.path().join("wxlink.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fail_outcome BEFORE UPDATE OF status ON messages \
         BEGIN SELECT RAISE(ABORT, 'disk is full'); END;",
    )
    .unwrap();
    let req = SendRequest::to(&user)
        .text("went out")
        .attach(FileKind::Image, &photo);
    let report = env
        .app
        .send(&req, &Unobserved)
        .await
        .expect("what went out is reported, not an error");
    assert!(!report.success);
    assert_eq!(report.sent.len(), 1, "the text went out; the image did not");
    assert_eq!(report.sent[0].kind, "text");
    assert!(report.sent[0].message_id.is_some());
    let error = report.error.unwrap_or_default();
    assert!(error.contains("disk is full"), "{error}");
    assert_eq!(
        env.fake.sent().len(),
        1,
        "nothing went out after the failure"
    );
    // Its row exists under the reported id: pending, and unknown once settled.
    let row = env
        .app
        .store()
        .message(&report.sent[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.message.status, MessageStatus::Pending);
    assert_eq!(row.message.text.as_deref(), Some("went out"));
    db.execute_batch("DROP TRIGGER fail_outcome").unwrap();
    let later = row.message.created_at_ms + 1;
    assert_eq!(env.app.store().settle_pending(later).await.unwrap(), 1);
    let row = env
        .app
        .store()
        .message(&report.sent[0].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.message.status, MessageStatus::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_cut_off_in_flight_is_in_history_and_keeps_its_quota() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80ivy@im.wechat").await;
    let user = first_message(&env, &bot, "hi").await;
    env.fake.fault("sendmessage", FaultSpec::DelayMs(5_000), 1);
    let app = env.app.clone();
    let to = user.clone();
    let sending = tokio::spawn(async move {
        app.send(&SendRequest::to(&to).text("in flight"), &Unobserved)
            .await
    });
    // The fake holds the request for 5 s; the send is in flight meanwhile.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!sending.is_finished());
    // The process dies here: the send's future is dropped mid-request.
    sending.abort();
    let _ = sending.await;
    let page = env
        .app
        .store()
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1, "recorded before it left");
    let row = &page.messages[0].message;
    assert_eq!(row.status, MessageStatus::Pending);
    assert_eq!(row.text.as_deref(), Some("in flight"));
    assert!(row
        .client_id
        .as_deref()
        .is_some_and(|c| c.starts_with("wxlink:")));
    let ctx = env.app.store().contexts_for_user(&user).await.unwrap();
    assert_eq!(ctx[0].send_count, 1, "its quota stays spent");
}
