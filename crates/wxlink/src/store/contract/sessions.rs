//! Sessions: names, logins and re-logins, listing, the default, renames and logouts.

use std::time::Duration;

use super::*;

pub(crate) async fn last_session_with_a_peer_is_the_newest_messages(db: &dyn Fixture) {
    let store = db.open().await;
    for name in ["a", "b"] {
        store
            .save_login(
                name,
                &LoginRecord {
                    backend: BackendKind::Ilink,
                    bot_id: format!("{name}@im.bot"),
                    user_id: None,
                    token: "t".into(),
                    base_url: None,
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(store.last_session_with("u@im.wechat").await.unwrap(), None);
    store
        .ingest("a", vec![inbound("a", "k1", "u@im.wechat", "one", 1)], "")
        .await
        .unwrap();
    store
        .ingest("b", vec![inbound("b", "k2", "u@im.wechat", "two", 2)], "")
        .await
        .unwrap();
    store
        .ingest("a", vec![inbound("a", "k3", "v@im.wechat", "three", 3)], "")
        .await
        .unwrap();
    assert_eq!(
        store
            .last_session_with("u@im.wechat")
            .await
            .unwrap()
            .as_deref(),
        Some("b")
    );
    assert_eq!(
        store
            .last_session_with("v@im.wechat")
            .await
            .unwrap()
            .as_deref(),
        Some("a")
    );
}

pub(crate) async fn session_names_are_checked(db: &dyn Fixture) {
    let store = store_with(db, &[]).await;
    for ok in ["main", "a", "work-2.bot_x", "工作号", &"x".repeat(64)] {
        store.save_login(ok, &login("b", "t")).await.unwrap();
    }
    for bad in [
        "",
        "has space",
        "a/b",
        "..",
        ".",
        "emoji😀",
        &"x".repeat(65),
    ] {
        assert!(
            matches!(
                store.save_login(bad, &login("b", "t")).await,
                Err(StoreError::InvalidName(_))
            ),
            "{bad:?} should be refused"
        );
    }
}

pub(crate) async fn save_login_creates_replaces_and_resets_on_bot_change(db: &dyn Fixture) {
    let store = store_with(db, &[]).await;
    let first = store
        .save_login("main", &login("bot-a", "t1"))
        .await
        .unwrap();
    assert!(first.is_default, "the first session becomes the default");
    assert_eq!(first.status, SessionStatus::Connected);
    assert_eq!(first.token.as_ref().map(Secret::expose_str), Some("t1"));
    assert!(
        !store
            .save_login("other", &login("bot-b", "t"))
            .await
            .unwrap()
            .is_default
    );

    let m = with_token(inbound("main", "1", "u1", "hi", 1_000), "ctx");
    store.ingest("main", vec![m], "cur-1").await.unwrap();

    // Same bot: credentials replaced, cursor and contexts kept.
    let again = store
        .save_login("main", &login("bot-a", "t2"))
        .await
        .unwrap();
    assert_eq!(again.token.as_ref().map(Secret::expose_str), Some("t2"));
    assert_eq!(again.created_at_ms, first.created_at_ms);
    assert_eq!(again.users, 1);
    assert_eq!(store.cursor("main").await.unwrap(), "cur-1");

    // Another bot: cursor and contexts dropped, history kept.
    let moved = store
        .save_login("main", &login("bot-c", "t3"))
        .await
        .unwrap();
    assert_eq!(moved.bot_id.as_deref(), Some("bot-c"));
    assert_eq!(moved.users, 0);
    assert_eq!(store.cursor("main").await.unwrap(), "");
    assert!(store.contexts(Some("main")).await.unwrap().is_empty());
    assert_eq!(store.history(&query()).await.unwrap().total, 1);
    assert!(moved.is_default);
}

pub(crate) async fn sessions_are_listed_default_first_with_user_counts(db: &dyn Fixture) {
    let store = store_with(db, &["b", "a", "c"]).await;
    store.set_default("c").await.unwrap();
    let batch = [
        with_token(inbound("a", "1", "u1", "x", 1), "t1"),
        with_token(inbound("a", "2", "u2", "y", 2), "t2"),
        inbound("a", "3", "u3", "no token", 3),
    ];
    store.ingest("a", batch.to_vec(), "c").await.unwrap();
    let list = store.sessions().await.unwrap();
    let names: Vec<_> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["c", "a", "b"]);
    assert_eq!(list[1].users, 2);
    assert_eq!(list[1].last_message_at_ms, Some(3));
    assert_eq!(list[0].last_message_at_ms, None);
    assert_eq!(
        list.iter().filter(|s| s.is_default).count(),
        1,
        "exactly one default"
    );
    assert!(store.session("nope").await.unwrap().is_none());
    assert!(matches!(
        store.set_default("nope").await,
        Err(StoreError::UnknownSession(_))
    ));
}

/// Two sessions can share a bot (a login saved under a second name); each is found by it,
/// default first, with the same fields the full list has, and nothing for another bot.
pub(crate) async fn sessions_are_found_by_their_bot(db: &dyn Fixture) {
    let store = store_with(db, &["b", "a", "c"]).await; // bots bot0, bot1, bot2
    store.save_login("d", &login("bot1", "t-d")).await.unwrap();
    store.set_default("d").await.unwrap();
    let batch = [with_token(inbound("a", "1", "u1", "x", 5), "t1")];
    store.ingest("a", batch.to_vec(), "c").await.unwrap();

    let found = store.sessions_with_bot("bot1").await.unwrap();
    let names: Vec<_> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["d", "a"], "default first, then by name");
    let listed = store.sessions().await.unwrap();
    for s in &found {
        let same = listed.iter().find(|l| l.name == s.name).unwrap();
        assert_eq!(s, same);
    }
    assert_eq!(found[1].users, 1);
    assert_eq!(found[1].last_message_at_ms, Some(5));
    assert_eq!(
        found[0].token.as_ref().map(Secret::expose_str),
        Some("t-d"),
        "the token is read (unsealed) like the list's"
    );
    assert_eq!(store.sessions_with_bot("bot2").await.unwrap()[0].name, "c");
    assert!(store.sessions_with_bot("nobody").await.unwrap().is_empty());
    assert!(store.sessions_with_bot("").await.unwrap().is_empty());
}

pub(crate) async fn the_first_session_is_the_default_until_another_is_chosen(db: &dyn Fixture) {
    let store = store_with(db, &[]).await;
    assert_eq!(store.default_session().await.unwrap(), None);
    store.save_login("zeta", &login("b1", "t")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    store.save_login("alpha", &login("b2", "t")).await.unwrap();
    store.save_login("mid", &login("b3", "t")).await.unwrap();
    // The first one saved is marked.
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("zeta")
    );
    store.set_default("mid").await.unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("mid")
    );
    // The mark stays through expiry and logout.
    store
        .set_status("mid", SessionStatus::Expired)
        .await
        .unwrap();
    store.logout("mid").await.unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("mid")
    );
    let listed: Vec<_> = store
        .sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        listed,
        ["mid", "alpha", "zeta"],
        "default first, then by name"
    );
    assert!(matches!(
        store.set_status("nope", SessionStatus::Expired).await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn rename_moves_everything(db: &dyn Fixture) {
    let store = store_with(db, &["old", "taken"]).await;
    store
        .ingest(
            "old",
            vec![
                with_token(inbound("old", "1", "u1", "hello world", 1), "T"),
                inbound("old", "2", "u2", "again", 2),
            ],
            "cur",
        )
        .await
        .unwrap();
    store
        .record_outbound(outbound("old", "c1", "u1", "reply", 3))
        .await
        .unwrap();

    assert!(matches!(
        store.rename_session("old", "taken").await,
        Err(StoreError::SessionExists(_))
    ));
    assert!(matches!(
        store.rename_session("old", "bad name").await,
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        store.rename_session("ghost", "fresh").await,
        Err(StoreError::UnknownSession(_))
    ));
    store.rename_session("old", "old").await.unwrap();

    store.rename_session("old", "new").await.unwrap();
    assert!(store.session("old").await.unwrap().is_none());
    let renamed = store.session("new").await.unwrap().unwrap();
    assert!(renamed.is_default, "the default flag moves with the name");
    assert_eq!(renamed.users, 1);
    assert_eq!(store.cursor("new").await.unwrap(), "cur");
    assert_eq!(store.cursor("old").await.unwrap(), "");
    assert_eq!(store.contexts(Some("new")).await.unwrap().len(), 1);
    assert!(store.contexts(Some("old")).await.unwrap().is_empty());
    assert_eq!(
        store
            .reserve_send("new", "u1", &tok("T"), QUOTA)
            .await
            .unwrap(),
        Some(1)
    );
    let by_session = async |s: &str| {
        store
            .history(&HistoryQuery {
                session: Some(s.into()),
                ..query()
            })
            .await
            .unwrap()
            .total
    };
    assert_eq!(by_session("new").await, 3);
    assert_eq!(by_session("old").await, 0);
    // New messages under the new name still dedupe against the moved ones.
    assert!(store
        .ingest(
            "new",
            vec![inbound("new", "1", "u1", "hello world", 1)],
            "c"
        )
        .await
        .unwrap()
        .is_empty());
    db.check_integrity(store.as_ref()).await;
}

pub(crate) async fn logout_keeps_history_and_drops_credentials(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "1", "u1", "keep me", 1), "T")],
            "cur",
        )
        .await
        .unwrap();
    store.logout("main").await.unwrap();
    let s = store.session("main").await.unwrap().unwrap();
    assert_eq!(s.status, SessionStatus::LoggedOut);
    assert_eq!(s.token, None);
    assert_eq!(s.users, 0);
    assert!(s.is_default);
    assert_eq!(store.cursor("main").await.unwrap(), "");
    assert!(store.contexts(None).await.unwrap().is_empty());
    assert_eq!(
        store
            .reserve_send("main", "u1", &tok("T"), QUOTA)
            .await
            .unwrap(),
        None
    );
    let page = store.history(&query()).await.unwrap();
    assert_eq!(texts(&page), ["keep me"]);
    assert!(matches!(
        store.logout("ghost").await,
        Err(StoreError::UnknownSession(_))
    ));
    // Logging in again reconnects.
    let back = store
        .save_login("main", &login("bot0", "new"))
        .await
        .unwrap();
    assert_eq!(back.status, SessionStatus::Connected);
    assert_eq!(back.token.as_ref().map(Secret::expose_str), Some("new"));
}

pub(crate) async fn session_presence_follows_the_sessions(db: &dyn Fixture) {
    let store = db.open().await;
    let presence = || async { store.session_presence().await.unwrap() };
    assert_eq!(presence().await, SessionPresence::default());
    log_in_all(store.as_ref(), &["a", "b"]).await;
    let connected = SessionPresence {
        any: true,
        connected: true,
    };
    assert_eq!(presence().await, connected);
    store.logout("a").await.unwrap();
    assert_eq!(presence().await, connected, "b still is");
    store.set_status("b", SessionStatus::Expired).await.unwrap();
    let idle = SessionPresence {
        any: true,
        connected: false,
    };
    assert_eq!(presence().await, idle);
    store.save_login("a", &login("bot0", "new")).await.unwrap();
    assert_eq!(presence().await, connected);
}
