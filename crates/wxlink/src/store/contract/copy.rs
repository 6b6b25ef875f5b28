//! Whole-store copies (`wxlink migrate-store`): the state and every message carried over
//! under the same ids, search working on the copy, ids continuing above the copied ones,
//! copying again changing nothing, and clashes counted instead of written.

use super::*;
use crate::store::{Reservation, RestoreOutcome, StoreState};

/// Copies everything from `from` to `to` in chunks of `chunk` messages.
async fn copy(from: &dyn Store, to: &dyn Store, chunk: u32) -> RestoreOutcome {
    let state = from.export_state().await.unwrap();
    to.restore_state(&state).await.unwrap();
    let mut total = RestoreOutcome::default();
    let mut after = 0;
    loop {
        let messages = from.messages_after(after, chunk).await.unwrap();
        let Some(last) = messages.last() else { break };
        after = last.id;
        let outcome = to.restore_messages(messages).await.unwrap();
        total.inserted += outcome.inserted;
        total.existing += outcome.existing;
        total.conflicting += outcome.conflicting;
    }
    total
}

/// A store with two sessions, history both ways (a gap in the ids from retention), context
/// tokens with sends made, a pending send, a problem, and consumers at several positions.
async fn busy_store(db: &dyn Fixture) -> Arc<dyn Store> {
    let store = store_with(db, &["work", "home"]).await;
    let mut batch = Vec::new();
    for i in 0..7 {
        batch.push(inbound(
            "work",
            &format!("w{i}"),
            "u1",
            &format!("工作消息 {i}"),
            1_000 + i,
        ));
    }
    let batch = [vec![with_token(batch.remove(0), "ctx-u1")], batch].concat();
    store.ingest("work", batch, "cursor-w").await.unwrap();
    store
        .ingest(
            "home",
            vec![with_token(
                inbound("home", "h0", "u2", "家里 hello", 2_000),
                "ctx-u2",
            )],
            "cursor-h",
        )
        .await
        .unwrap();
    store
        .record_outbound(outbound("work", "c1", "u1", "reply", 3_000))
        .await
        .unwrap();
    let reservation = Reservation {
        token: tok("ctx-u1"),
        quota: QUOTA,
    };
    store
        .begin_send(
            with_token(outbound("work", "c2", "u1", "in flight", 3_100), "ctx-u1"),
            Some(reservation),
        )
        .await
        .unwrap()
        .expect("reserved");
    store
        .set_problem("home", Some("polls keep failing"))
        .await
        .unwrap();
    store.set_default("home").await.unwrap();
    store.claim_inbox("agent", 0).await.unwrap(); // created at the newest id
    store.claim_inbox(DEFAULT_CONSUMER, 3).await.unwrap();
    store
        .prune(Retention {
            max_age_ms: None,
            max_rows: Some(8),
        })
        .await
        .unwrap();
    store
}

pub(crate) async fn a_copy_carries_everything_and_is_idempotent(db: &dyn Fixture) {
    let from = busy_store(db).await;
    let to = db.open_other().await;
    let all = from.messages_after(0, 1_000).await.unwrap();
    assert_eq!(all.len(), 8, "retention left 8 of 10");
    assert!(all.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
    assert_eq!(
        from.messages_after(all[5].id, 1_000).await.unwrap(),
        all[6..].to_vec()
    );

    let first = copy(from.as_ref(), to.as_ref(), 3).await;
    assert_eq!(
        first,
        RestoreOutcome {
            inserted: 8,
            existing: 0,
            conflicting: 0
        }
    );
    assert_eq!(
        to.messages_after(0, 1_000).await.unwrap(),
        all,
        "every field, same ids"
    );
    let state = from.export_state().await.unwrap();
    assert_eq!(to.export_state().await.unwrap(), state);
    assert_eq!(state.sessions.len(), 2);
    assert_eq!(state.cursors.len(), 2);
    assert_eq!(state.contexts.len(), 2);
    assert_eq!(
        state
            .contexts
            .iter()
            .find(|c| c.user_id == "u1")
            .map(|c| c.send_count),
        Some(1),
        "the send in flight keeps its reservation"
    );
    assert!(state.consumers.iter().any(|c| c.name == "agent"));
    assert_eq!(to.default_session().await.unwrap().as_deref(), Some("home"));
    assert_eq!(
        to.session("work")
            .await
            .unwrap()
            .unwrap()
            .token
            .map(|t| t.expose_str().to_owned()),
        Some("tok".to_owned())
    );

    // The copy searches, reads its inbox where the source stood, and goes on above the ids.
    let found = to
        .history(&HistoryQuery {
            text: Some("消息".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(
        found.total,
        from.history(&HistoryQuery {
            text: Some("消息".into()),
            ..query()
        })
        .await
        .unwrap()
        .total
    );
    assert!(found.total > 0);
    assert_eq!(
        ids(&to.claim_inbox(DEFAULT_CONSUMER, 100).await.unwrap()),
        ids(&from.claim_inbox(DEFAULT_CONSUMER, 100).await.unwrap())
    );
    let newest = all.last().unwrap().id;
    let next = to
        .ingest(
            "work",
            vec![inbound("work", "after-copy", "u1", "new", 9_000)],
            "cursor-w2",
        )
        .await
        .unwrap();
    assert!(next[0] > newest, "{next:?} continues above {newest}");
    assert_eq!(ids(&to.claim_inbox("agent", 100).await.unwrap()), next);

    // Again: nothing new; the state is the source's again (its cursor included).
    let again = copy(from.as_ref(), to.as_ref(), 5).await;
    assert_eq!(
        again,
        RestoreOutcome {
            inserted: 0,
            existing: 8,
            conflicting: 0
        }
    );
    assert_eq!(to.cursor("work").await.unwrap(), "cursor-w");
    db.check_integrity(to.as_ref()).await;

    // A message of the source whose id the copy gave to another message is counted, not
    // written.
    let clash = from
        .ingest(
            "work",
            vec![inbound("work", "only-in-source", "u1", "x", 9_500)],
            "cursor-w3",
        )
        .await
        .unwrap();
    assert_eq!(clash, next, "both stores drew the same next id");
    let last = copy(from.as_ref(), to.as_ref(), 100).await;
    assert_eq!(
        last,
        RestoreOutcome {
            inserted: 0,
            existing: 8,
            conflicting: 1
        }
    );
    assert!(to.message("only-in-source").await.unwrap().is_none());
}

pub(crate) async fn an_empty_store_copies_as_empty(db: &dyn Fixture) {
    let from = db.open().await;
    let to = db.open_other().await;
    assert_eq!(from.export_state().await.unwrap(), StoreState::default());
    assert_eq!(
        copy(from.as_ref(), to.as_ref(), 10).await,
        RestoreOutcome::default()
    );
    assert_eq!(to.export_state().await.unwrap(), StoreState::default());
    assert!(to.restore_messages(Vec::new()).await.unwrap() == RestoreOutcome::default());
}
