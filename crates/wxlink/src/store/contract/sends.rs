//! Sends recorded before they leave: `begin_send` stores the row `pending` and reserves the
//! quota in one step, `finish_send` records the outcome (giving a reservation back when asked),
//! and `settle_pending` marks what a dead process left in flight `unknown`.

use super::*;
use crate::store::Reservation;

fn reservation(token: &str) -> Option<Reservation> {
    Some(Reservation {
        token: tok(token),
        quota: QUOTA,
    })
}

/// The one outbound row of `store`.
async fn the_send(store: &dyn Store) -> StoredMessage {
    let mut page = store
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 1);
    let listed = page.messages.remove(0);
    // The full row (`raw` included; lists leave it out).
    let full = store
        .message(&listed.id.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(full.message.status, listed.message.status);
    full
}

/// A store with session `main`, where user `u1` wrote with context token `T1`.
async fn user_wrote(db: &dyn Fixture) -> Arc<dyn Store> {
    let store = store_with(db, &["main"]).await;
    let hi = with_token(inbound("main", "1", "u1", "hi", 1_000), "T1");
    store.ingest("main", vec![hi], "c").await.unwrap();
    store
}

async fn send_count(store: &dyn Store) -> u32 {
    store.contexts_for_user("u1").await.unwrap()[0].send_count
}

pub(crate) async fn a_send_is_pending_with_its_quota_until_finished(db: &dyn Fixture) {
    let store = user_wrote(db).await;
    let mut row = outbound("main", "client:a", "u1", "on its way", 2_000);
    row.context_token = Some(tok("T1"));
    let id = store
        .begin_send(row.clone(), reservation("T1"))
        .await
        .unwrap()
        .expect("within the quota");
    let pending = the_send(store.as_ref()).await;
    assert_eq!(pending.id, id);
    assert_eq!(pending.message.status, MessageStatus::Pending);
    assert_eq!(send_count(store.as_ref()).await, 1);

    // What went out replaces what was known before.
    let mut sent = row.clone();
    sent.status = MessageStatus::Sent;
    sent.upstream_id = Some("777".into());
    sent.text = Some("on its way, delivered".into());
    sent.raw = Some(json!({"message_id": 777}));
    store.finish_send(id, sent, false).await.unwrap();
    let done = the_send(store.as_ref()).await;
    assert_eq!(done.id, id);
    assert_eq!(done.message.status, MessageStatus::Sent);
    assert_eq!(done.message.upstream_id.as_deref(), Some("777"));
    assert_eq!(done.message.raw, Some(json!({"message_id": 777})));
    assert_eq!(send_count(store.as_ref()).await, 1);
    // Its new text is what search finds.
    let found = store
        .history(&HistoryQuery {
            text: Some("delivered".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(ids(&found.messages), vec![id]);
    assert_eq!(
        store.message(&id.to_string()).await.unwrap().unwrap().id,
        id
    );

    // A failure that never reached the server gives the reservation back.
    let mut second = outbound("main", "client:b", "u1", "lost", 3_000);
    second.context_token = Some(tok("T1"));
    let id2 = store
        .begin_send(second.clone(), reservation("T1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(send_count(store.as_ref()).await, 2);
    second.status = MessageStatus::Failed;
    second.error = Some("network down".into());
    store.finish_send(id2, second, true).await.unwrap();
    assert_eq!(send_count(store.as_ref()).await, 1);
    let failed = store.message(&id2.to_string()).await.unwrap().unwrap();
    assert_eq!(failed.message.status, MessageStatus::Failed);
    assert_eq!(failed.message.error.as_deref(), Some("network down"));
}

pub(crate) async fn begin_send_stores_nothing_beyond_the_quota(db: &dyn Fixture) {
    let store = user_wrote(db).await;
    for i in 0..QUOTA {
        let row = outbound("main", &format!("client:{i}"), "u1", "x", 2_000);
        assert!(store
            .begin_send(row, reservation("T1"))
            .await
            .unwrap()
            .is_some());
    }
    let over = outbound("main", "client:over", "u1", "one too many", 2_000);
    assert_eq!(
        store.begin_send(over, reservation("T1")).await.unwrap(),
        None
    );
    let stale = outbound("main", "client:stale", "u1", "old token", 2_000);
    assert_eq!(
        store.begin_send(stale, reservation("T0")).await.unwrap(),
        None
    );
    let page = store
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.messages.len(), QUOTA as usize);
    // Without a quota (backends with none) there is nothing to reserve.
    let free = outbound("main", "client:free", "u1", "no quota", 2_000);
    assert!(store.begin_send(free, None).await.unwrap().is_some());
    let ghost = outbound("ghost", "client:g", "u1", "x", 2_000);
    assert!(matches!(
        store.begin_send(ghost, None).await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn interrupted_sends_settle_as_unknown_and_keep_their_quota(db: &dyn Fixture) {
    let store = user_wrote(db).await;
    let old = outbound("main", "client:old", "u1", "killed in flight", 2_000);
    let old_id = store
        .begin_send(old, reservation("T1"))
        .await
        .unwrap()
        .unwrap();
    let recent = outbound("main", "client:new", "u1", "still going", 9_000);
    let recent_id = store.begin_send(recent, None).await.unwrap().unwrap();

    // A restarted process (another handle) settles what is older than the cutoff.
    let reopened = db.open().await;
    assert_eq!(reopened.settle_pending(5_000).await.unwrap(), 1);
    assert_eq!(reopened.settle_pending(5_000).await.unwrap(), 0);
    let status = |id: i64| {
        let store = reopened.clone();
        async move {
            store
                .message(&id.to_string())
                .await
                .unwrap()
                .unwrap()
                .message
                .status
        }
    };
    assert_eq!(status(old_id).await, MessageStatus::Unknown);
    assert_eq!(status(recent_id).await, MessageStatus::Pending);
    assert_eq!(send_count(reopened.as_ref()).await, 1, "still counted");
    // History shows it (never hidden).
    let page = reopened
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.messages.len(), 2);
}

pub(crate) async fn a_send_and_the_listeners_copy_of_it_are_one_row(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let echo = |key: &str| NewMessage {
        dedupe_key: key.into(),
        upstream_id: Some(key.into()),
        ..outbound("main", key, "u1", "hello", 2_000)
    };
    // The listener stores its copy while the send is still pending...
    let row = outbound("main", "client:a", "u1", "hello", 2_000);
    let id = store.begin_send(row.clone(), None).await.unwrap().unwrap();
    store.ingest("main", vec![echo("777")], "c1").await.unwrap();
    let mut sent = row.clone();
    sent.dedupe_key = "777".into();
    sent.upstream_id = Some("777".into());
    store.finish_send(id, sent, false).await.unwrap();
    let only = the_send(store.as_ref()).await;
    assert_eq!((only.id, only.message.dedupe_key.as_str()), (id, "777"));
    // ...or after it finished: then the copy is a duplicate and is not stored.
    let row = outbound("main", "client:b", "u1", "again", 3_000);
    let id2 = store.begin_send(row.clone(), None).await.unwrap().unwrap();
    let mut sent = row;
    sent.dedupe_key = "888".into();
    store.finish_send(id2, sent, false).await.unwrap();
    assert!(store
        .ingest("main", vec![echo("888")], "c2")
        .await
        .unwrap()
        .is_empty());
    let page = store
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(ids(&page.messages), vec![id2, id]);
}
