//! [`Items`]: a message's normalized items, kept as the JSON text they are stored as and
//! parsed only when something looks inside.
//!
//! Most paths only carry items: the store reads them and an answer writes them out again (a
//! page of history, `recv`, a resource). Kept as text, such a page neither builds nor frees a
//! JSON tree per message: it was about a tenth of a `history` call's instructions (callgrind),
//! spent reading the column into a tree, writing it back out and freeing it. The few readers
//! that look inside (a push summary, the mention check, a download's file name) call
//! [`Items::value`], which parses once and keeps the tree.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// A message's items (a JSON array: text, media references, quotes), as JSON text.
#[derive(Clone)]
pub struct Items {
    /// The JSON, checked when made.
    json: Box<RawValue>,
    /// The same JSON parsed, once something asked for it (or it was made from a tree).
    parsed: OnceLock<Value>,
}

impl Items {
    /// No items (`[]`).
    pub fn empty() -> Items {
        // `[]` is JSON: the fallback is never taken.
        let json =
            RawValue::from_string("[]".to_owned()).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Items {
            json,
            parsed: OnceLock::new(),
        }
    }

    /// Items from their JSON text (as a store keeps them), which must be JSON.
    pub fn from_json(json: String) -> Result<Items, serde_json::Error> {
        Ok(Items {
            json: RawValue::from_string(json)?,
            parsed: OnceLock::new(),
        })
    }

    /// The JSON text.
    pub fn json(&self) -> &str {
        self.json.get()
    }

    /// The items parsed (the first call parses; JSON too deep for serde_json reads as null).
    pub fn value(&self) -> &Value {
        self.parsed
            .get_or_init(|| serde_json::from_str(self.json.get()).unwrap_or(Value::Null))
    }

    /// The items parsed, as a list (empty when the JSON is not an array).
    pub fn list(&self) -> &[Value] {
        self.value().as_array().map(Vec::as_slice).unwrap_or(&[])
    }

    /// The JSON text, owned.
    pub fn into_json(self) -> String {
        Box::<str>::from(self.json).into_string()
    }
}

impl From<Value> for Items {
    /// Items from a tree (as normalizers make them): written to text now, the tree kept.
    fn from(value: Value) -> Items {
        // Writing a `Value` cannot fail (its map keys are strings); `null` if it ever did.
        let json =
            serde_json::value::to_raw_value(&value).unwrap_or_else(|_| RawValue::NULL.to_owned());
        Items {
            json,
            parsed: OnceLock::from(value),
        }
    }
}

impl Default for Items {
    fn default() -> Items {
        Items::empty()
    }
}

impl PartialEq for Items {
    fn eq(&self, other: &Items) -> bool {
        self.json() == other.json() || self.value() == other.value()
    }
}

impl PartialEq<Value> for Items {
    fn eq(&self, other: &Value) -> bool {
        self.value() == other
    }
}

/// Only the size: items can hold media keys.
impl fmt::Debug for Items {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Items({} bytes)", self.json().len())
    }
}

/// Written as the JSON it is (verbatim with serde_json).
impl Serialize for Items {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.json.serialize(serializer)
    }
}

/// Read from any JSON value.
impl<'de> Deserialize<'de> for Items {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Items, D::Error> {
        Value::deserialize(deserializer).map(Items::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Text in, the same text out; parsed on demand; written verbatim inside other JSON.
    #[test]
    fn items_keep_their_text() {
        let text = r#"[{"type":"text","text":"你好 \"q\""}]"#;
        let items = Items::from_json(text.to_string()).unwrap();
        assert_eq!(items.json(), text);
        assert_eq!(items.value()[0]["text"], "你好 \"q\"");
        assert_eq!(items.list()[0]["type"], "text");
        assert!(Items::from_json("{}".into()).unwrap().list().is_empty());
        assert_eq!(items, json!([{"type": "text", "text": "你好 \"q\""}]));
        #[derive(Serialize)]
        struct Wrapper<'a> {
            items: &'a Items,
        }
        let wrapped = serde_json::to_string(&Wrapper { items: &items }).unwrap();
        assert_eq!(wrapped, format!(r#"{{"items":{text}}}"#));
        assert_eq!(serde_json::to_value(&items).unwrap(), *items.value());
        assert_eq!(items.clone().into_json(), text);
    }

    /// Text that is not JSON is refused; a tree is written once and compares by value.
    #[test]
    fn items_are_checked_and_compared_by_value() {
        assert!(Items::from_json("[{\"type\":".into()).is_err());
        let tree = Items::from(json!([{"b": 1, "a": [true, null]}]));
        let text = Items::from_json(r#"[ {"a": [true, null], "b": 1} ]"#.into()).unwrap();
        assert_eq!(tree, text);
        assert_ne!(tree, Items::empty());
        assert_eq!(Items::default().json(), "[]");
        let back: Items = serde_json::from_str(tree.json()).unwrap();
        assert_eq!(back, tree);
        assert_eq!(
            format!("{tree:?}"),
            format!("Items({} bytes)", tree.json().len())
        );
    }
}
