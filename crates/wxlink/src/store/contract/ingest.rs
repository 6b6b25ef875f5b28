//! Ingest and context tokens: de-duplication, the cursor, atomicity, the token upsert rules and the send quota.

use super::*;

pub(crate) async fn ingest_dedupes_and_always_moves_the_cursor(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = [
        inbound("main", "100", "u1", "one", 1_000),
        inbound("main", "101", "u1", "two", 2_000),
    ];
    let first = store.ingest("main", batch.to_vec(), "c1").await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first[0] < first[1]);
    assert_eq!(store.cursor("main").await.unwrap(), "c1");

    let replay = store.ingest("main", batch.to_vec(), "c2").await.unwrap();
    assert!(replay.is_empty(), "a replayed batch inserts nothing");
    assert_eq!(store.cursor("main").await.unwrap(), "c2");

    let mixed = [
        inbound("main", "101", "u1", "two", 2_000),
        inbound("main", "102", "u1", "three", 3_000),
    ];
    let third = store.ingest("main", mixed.to_vec(), "c3").await.unwrap();
    assert_eq!(third.len(), 1);
    assert!(third[0] > first[1]);
    assert_eq!(store.history(&query()).await.unwrap().total, 3);
    assert_eq!(store.latest_id().await.unwrap(), third[0]);
    // The same key in another session is another message.
    store.save_login("second", &login("b2", "t")).await.unwrap();
    assert_eq!(
        store
            .ingest("second", batch.to_vec(), "x")
            .await
            .unwrap()
            .len(),
        2
    );
    // Empty batch: only the cursor moves.
    assert!(store.ingest("main", vec![], "c4").await.unwrap().is_empty());
    assert_eq!(store.cursor("main").await.unwrap(), "c4");
    assert_eq!(store.cursor("unknown").await.unwrap(), "");
}

pub(crate) async fn ingest_from_stores_only_while_the_cursor_is_unmoved(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let one = vec![with_token(inbound("main", "1", "u1", "one", 1_000), "t1")];
    let two = vec![with_token(inbound("main", "2", "u1", "two", 2_000), "t2")];
    // No cursor yet: it reads as "".
    let ids = store
        .ingest_from("main", one, Some(""), "c1")
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    // Fetched after a cursor the store never got (the batch before failed): nothing written.
    for stale in ["", "c0", "c2"] {
        match store
            .ingest_from("main", two.clone(), Some(stale), "c3")
            .await
        {
            Err(StoreError::CursorMoved(name)) => assert_eq!(name, "main"),
            other => panic!("from {stale:?}: {other:?}"),
        }
    }
    assert_eq!(store.cursor("main").await.unwrap(), "c1");
    assert_eq!(store.history(&query()).await.unwrap().total, 1);
    assert_eq!(store.latest_id().await.unwrap(), ids[0]);
    let token = store.contexts_for_user("u1").await.unwrap().remove(0);
    assert_eq!(
        token.token.expose_str(),
        "t1",
        "the token did not move either"
    );
    // From the cursor the store holds: stored.
    let ids = store
        .ingest_from("main", two, Some("c1"), "c2")
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(store.cursor("main").await.unwrap(), "c2");
    // An empty batch is checked the same way.
    assert!(matches!(
        store.ingest_from("main", vec![], Some("c1"), "c4").await,
        Err(StoreError::CursorMoved(_))
    ));
    assert_eq!(store.cursor("main").await.unwrap(), "c2");
    // Without a cursor to compare, the cursor moves whatever it was.
    store.ingest_from("main", vec![], None, "c5").await.unwrap();
    assert_eq!(store.cursor("main").await.unwrap(), "c5");
    // An unknown session is that, not a moved cursor.
    assert!(matches!(
        store.ingest_from("ghost", vec![], Some("x"), "y").await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn ingest_for_unknown_session_writes_nothing(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = [with_token(inbound("ghost", "1", "u1", "boo", 1), "t")];
    assert!(matches!(
        store.ingest("ghost", batch.to_vec(), "c").await,
        Err(StoreError::UnknownSession(name)) if name == "ghost"
    ));
    assert_eq!(store.latest_id().await.unwrap(), 0);
    assert_eq!(store.cursor("ghost").await.unwrap(), "");
    assert!(store.contexts(None).await.unwrap().is_empty());
}

pub(crate) async fn context_tokens_follow_the_upsert_rules(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    async fn ctx(store: &dyn Store) -> crate::store::ContextRecord {
        store.contexts_for_user("u1").await.unwrap().remove(0)
    }

    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "1", "u1", "a", 1_000), "T1")],
            "c",
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        Some(1)
    );
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        Some(2)
    );

    // Same token again, later: count kept, time moves forward.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "2", "u1", "b", 2_000), "T1")],
            "c",
        )
        .await
        .unwrap();
    let c = ctx(store.as_ref()).await;
    assert_eq!(
        (c.token.expose_str(), c.send_count, c.received_at_ms),
        ("T1", 2, 2_000)
    );

    // New token: replaced, count reset.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "3", "u1", "c", 3_000), "T2")],
            "c",
        )
        .await
        .unwrap();
    let c = ctx(store.as_ref()).await;
    assert_eq!(
        (c.token.expose_str(), c.send_count, c.received_at_ms),
        ("T2", 0, 3_000)
    );

    // An older token (a late replay) never replaces a newer one.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "0", "u1", "old", 500), "T0")],
            "c",
        )
        .await
        .unwrap();
    assert_eq!(ctx(store.as_ref()).await.token.expose_str(), "T2");

    // Within one batch the last (newest) token wins; empty tokens and outbound are ignored.
    let mut out = outbound("main", "cid", "u1", "reply", 9_000);
    out.context_token = Some(tok("OUT"));
    store
        .ingest(
            "main",
            vec![
                with_token(inbound("main", "4", "u1", "d", 4_000), "T3"),
                with_token(inbound("main", "5", "u1", "e", 5_000), "T4"),
                with_token(inbound("main", "6", "u1", "f", 6_000), ""),
                out,
            ],
            "c",
        )
        .await
        .unwrap();
    let c = ctx(store.as_ref()).await;
    assert_eq!((c.token.expose_str(), c.received_at_ms), ("T4", 5_000));

    // Per session and freshest first across sessions.
    store.save_login("second", &login("b2", "t")).await.unwrap();
    store
        .ingest(
            "second",
            vec![with_token(inbound("second", "1", "u1", "x", 8_000), "S1")],
            "c",
        )
        .await
        .unwrap();
    let all = store.contexts_for_user("u1").await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.session.as_str()).collect::<Vec<_>>(),
        ["second", "main"]
    );
    assert_eq!(store.contexts(Some("main")).await.unwrap().len(), 1);
    assert_eq!(store.contexts(None).await.unwrap().len(), 2);
    // Read together for routing: the user's tokens, and only the sessions that hold one of
    // them or whose backend is open, in the order of `sessions`.
    store.save_login("idle", &login("b3", "t")).await.unwrap();
    let mut room = login("b4", "t");
    room.backend = BackendKind::Wechaty;
    store.save_login("room", &room).await.unwrap();
    let open = [BackendKind::Wechaty];
    let names = |s: &[SessionRecord]| s.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let picked = store.route_candidates("u1", &open).await.unwrap();
    assert_eq!(picked.contexts, all);
    assert_eq!(names(&picked.sessions), ["main", "room", "second"]);
    let every = store.sessions().await.unwrap();
    let expected: Vec<_> = every
        .iter()
        .filter(|s| ["main", "room", "second"].contains(&s.name.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        picked.sessions, expected,
        "the records `sessions` gives, unchanged"
    );
    let closed = store.route_candidates("u1", &[]).await.unwrap();
    assert_eq!(names(&closed.sessions), ["main", "second"]);
    let nobody = store.route_candidates("nobody", &open).await.unwrap();
    assert!(nobody.contexts.is_empty());
    assert_eq!(names(&nobody.sessions), ["room"]);
    let empty = db.open_other().await;
    let none = empty.route_candidates("u1", &open).await.unwrap();
    assert_eq!(none, RouteCandidates::default());
}

pub(crate) async fn reserve_and_refund_respect_the_quota_and_the_token(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "1", "u1", "a", 1), "T1")],
            "c",
        )
        .await
        .unwrap();
    for expected in 1..=QUOTA {
        assert_eq!(
            store
                .reserve_send("main", "u1", &tok("T1"), QUOTA)
                .await
                .unwrap(),
            Some(expected)
        );
    }
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        None
    );
    store.refund_send("main", "u1", &tok("T1")).await.unwrap();
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        Some(10)
    );
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        None
    );
    // The quota is the caller's: a larger one allows more on the same token.
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA + 1)
            .await
            .unwrap(),
        Some(QUOTA + 1)
    );
    store.refund_send("main", "u1", &tok("T1")).await.unwrap();

    // Wrong token, user or session: nothing reserved, refund is a no-op.
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T0"), QUOTA)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reserve_send("main", "u2", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reserve_send("other", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        None
    );
    store.refund_send("main", "u1", &tok("T0")).await.unwrap();
    assert_eq!(
        store.contexts_for_user("u1").await.unwrap()[0].send_count,
        10
    );

    // A new token resets the quota; a refund for the old token no longer applies.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "2", "u1", "b", 2), "T2")],
            "c",
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T1"), QUOTA)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T2"), QUOTA)
            .await
            .unwrap(),
        Some(1)
    );
    store.refund_send("main", "u1", &tok("T1")).await.unwrap();
    assert_eq!(
        store.contexts_for_user("u1").await.unwrap()[0].send_count,
        1
    );
    // Never below zero.
    store.refund_send("main", "u1", &tok("T2")).await.unwrap();
    store.refund_send("main", "u1", &tok("T2")).await.unwrap();
    assert_eq!(
        store.contexts_for_user("u1").await.unwrap()[0].send_count,
        0
    );
}
