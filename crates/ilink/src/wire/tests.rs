//! The wire rules on real and edge-case bodies.

use super::*;
use serde_json::json;

#[test]
fn large_ids_keep_every_digit_as_number_or_string() {
    let m: WeixinMessage =
        serde_json::from_str(r#"{"message_id": 7462500663980633224, "seq": "12"}"#).unwrap();
    assert_eq!(m.message_id, Some(7462500663980633224));
    assert_eq!(m.seq, Some(12));
    let m: WeixinMessage =
        serde_json::from_str(r#"{"message_id": "18446744073709551615"}"#).unwrap();
    assert_eq!(m.message_id, Some(u64::MAX));
}

#[test]
fn len_accepts_string_and_number_and_svr_id_accepts_number() {
    let f: FileItem = serde_json::from_str(r#"{"len": 518728}"#).unwrap();
    assert_eq!(f.len.as_deref(), Some("518728"));
    let f: FileItem = serde_json::from_str(r#"{"len": "11"}"#).unwrap();
    assert_eq!(f.len.as_deref(), Some("11"));
    let r: RefMessage = serde_json::from_str(r#"{"svr_id": 7462500638282099720}"#).unwrap();
    assert_eq!(r.svr_id.as_deref(), Some("7462500638282099720"));
}

#[test]
fn nulls_and_absent_fields_default() {
    let m: WeixinMessage =
        serde_json::from_str(r#"{"message_id": null, "item_list": null, "context_token": null}"#)
            .unwrap();
    assert_eq!(m, WeixinMessage::default());
}

#[test]
fn unknown_fields_survive_a_round_trip() {
    let input = json!({"seq": 1, "future_field": {"a": [1, 2]},
        "item_list": [{"type": 99, "sticker_item": {"id": "x"}}]});
    let m: WeixinMessage = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(m.item_list[0].kind(), None);
    assert_eq!(serde_json::to_value(&m).unwrap(), input);
}

#[test]
fn outbound_text_item_has_the_documented_shape() {
    let v = serde_json::to_value(MessageItem::text("hi")).unwrap();
    assert_eq!(v, json!({"type": 1, "text_item": {"text": "hi"}}));
}

#[test]
fn status_fields_read_from_any_response() {
    let r: SendMessageResponse =
        serde_json::from_str(r#"{"ret": -2, "errmsg": "prepare failed"}"#).unwrap();
    assert_eq!(r.ret(), Some(-2));
    assert_eq!(r.errmsg(), Some("prepare failed"));
    let r: StatusResponse =
        serde_json::from_str(r#"{"errcode": "-14", "errmsg": "session timeout"}"#).unwrap();
    assert_eq!(r.errcode(), Some(-14));
}
