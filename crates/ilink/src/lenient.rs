//! Tolerant serde adapters for the wire model.
//!
//! The iLink server and its many client generations disagree on JSON types: ids come as numbers
//! or strings, `file_item.len` as a string or a number, and any field may be `null`. Each module
//! here is used with `#[serde(with = "…")]` and accepts every such spelling while writing the
//! canonical one back out.
//!
//! Reading never fails on a value of the wrong type: the field is left empty (`None`, or a list
//! without the entries that do not fit) and the rest of the message is kept. A message's raw
//! JSON is stored next to the model, so what a field held is never lost.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Integers from a JSON number (integral floats too) or a decimal string; `null` is absent.
pub mod int {
    use super::*;

    /// Writes the integer as a JSON number.
    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a number or a decimal string; anything else, or a number out of `T`'s range, is
    /// `None`.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr,
    {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    T::try_from(u).ok()
                } else if let Some(i) = n.as_i64() {
                    T::try_from(i).ok()
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        T::try_from(f as i64).ok()
                    } else {
                        None
                    }
                }
            }
            Some(Value::String(s)) => s.trim().parse::<T>().ok(),
            _ => None,
        })
    }
}

/// Strings from a JSON string, number or boolean; `null` is absent.
pub mod string {
    use super::*;

    /// Writes the string.
    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a string, or a number or boolean as its decimal/text form; a list or an object is
    /// `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        })
    }
}

/// Like [`string`] for fields that are always present: `null` or absent is `""`.
pub mod string_or_empty {
    use super::*;

    /// Writes the string.
    pub fn serialize<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    /// Reads like [`string::deserialize`], defaulting to `""`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        super::string::deserialize(d).map(Option::unwrap_or_default)
    }
}

/// Booleans from `true`/`false`, `0`/`1` or their string forms; `null` is absent.
pub mod boolean {
    use super::*;

    /// Writes the boolean.
    pub fn serialize<S: Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a boolean in any common spelling; anything else is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::Bool(b)) => Some(b),
            Some(Value::Number(n)) => Some(n.as_f64().unwrap_or(0.0) != 0.0),
            Some(Value::String(s)) => match s.trim() {
                "true" | "1" => Some(true),
                "false" | "0" | "" => Some(false),
                _ => None,
            },
            _ => None,
        })
    }
}

/// Lists where `null` (or anything not a list) means empty, and entries that do not fit `T`
/// are left out.
pub mod list {
    use super::*;

    /// Writes the list.
    pub fn serialize<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a list, keeping the entries that read as `T`.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::Array(entries)) => entries
                .into_iter()
                .filter_map(|e| T::deserialize(e).ok())
                .collect(),
            _ => Vec::new(),
        })
    }
}

/// Nested objects (`text_item`, `media`, …): `None` when absent, `null`, or not of `T`'s shape.
pub mod object {
    use super::*;

    /// Writes the object.
    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads an object of `T`'s shape.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => None,
            Some(v) => T::deserialize(v).ok(),
        })
    }
}
