//! `ilink_updates`: a whole `getupdates` answer, as bytes off the wire, through
//! `ilink::parse_updates` (crates/ilink/src/updates.rs) and on into the rows wxlink stores
//! (`wxlink::upstream::ilink::normalize::inbound`).
//!
//! Invariants:
//! - Nothing panics, whatever the bytes (unpaired surrogates, nesting of any depth, wrong
//!   types, junk entries, invalid UTF-8).
//! - Repairing surrogates is idempotent and leaves input without them byte for byte.
//! - A reply that parses accounts for every entry of `msgs`: each is a message or a skipped
//!   entry. A message is typed (its raw JSON an object) or kept as its JSON text with the
//!   reason (raw a string); nothing is dropped silently.
//! - A cursor, when there is one, is not empty; a next timeout, when there is one, is positive.
//! - Every message that is not the bot's own echo becomes a row with a dedupe key; an unreadable
//!   one is kind `unknown` with an error.

#![no_main]

use ilink::json::repair_lone_surrogates;
use ilink::parse_updates;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let once = repair_lone_surrogates(data);
    assert_eq!(repair_lone_surrogates(&once).as_ref(), once.as_ref());
    if !data.windows(2).any(|w| w == b"\\u") {
        assert_eq!(once.as_ref(), data);
    }
    let Ok(reply) = parse_updates(data) else {
        return;
    };
    if let Ok(serde_json::Value::Object(top)) = serde_json::from_slice::<serde_json::Value>(&once) {
        if let Some(serde_json::Value::Array(msgs)) = top.get("msgs") {
            assert_eq!(reply.messages.len() + reply.skipped, msgs.len());
        }
    }
    assert!(reply.cursor.as_deref().is_none_or(|c| !c.is_empty()));
    assert!(reply.next_timeout_ms.is_none_or(|ms| ms > 0));
    for received in &reply.messages {
        match &received.message {
            Ok(_) => assert!(received.raw.is_object()),
            Err(reason) => {
                assert!(received.raw.is_string());
                assert!(!reason.is_empty());
            }
        }
        let unreadable = received.message.is_err();
        if let Some(row) = wxlink::upstream::ilink::normalize::inbound("s", received.clone(), 1) {
            assert!(!row.dedupe_key.is_empty());
            if unreadable {
                assert_eq!(row.kind, "unknown");
                assert!(row.error.is_some());
            }
        }
    }
});
