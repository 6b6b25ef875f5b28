//! Tolerant serde adapters for the wire model.
//!
//! The iLink server and its many client generations disagree on JSON types: ids come as numbers
//! or strings, `file_item.len` as a string or a number, and any field may be `null`. Each module
//! here is used with `#[serde(with = "…")]` and accepts every such spelling while writing the
//! canonical one back out.

use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Integers from a JSON number (integral floats too) or a decimal string; `null` is absent.
pub mod int {
    use super::*;

    /// Writes the integer as a JSON number.
    pub fn serialize<S: Serializer, T: Serialize>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a number or a decimal string.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<u64> + TryFrom<i64> + std::str::FromStr,
    {
        let out_of_range = || D::Error::custom("integer out of range");
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(u) = n.as_u64() {
                    T::try_from(u).map(Some).map_err(|_| out_of_range())
                } else if let Some(i) = n.as_i64() {
                    T::try_from(i).map(Some).map_err(|_| out_of_range())
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() == 0.0 && f.abs() < 9.0e15 {
                        T::try_from(f as i64).map(Some).map_err(|_| out_of_range())
                    } else {
                        Err(D::Error::custom(format!("expected an integer, got {n}")))
                    }
                }
            }
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(Value::String(s)) => s
                .trim()
                .parse::<T>()
                .map(Some)
                .map_err(|_| D::Error::custom(format!("expected an integer, got {s:?}"))),
            Some(other) => Err(D::Error::custom(format!(
                "expected an integer, got {}",
                kind(&other)
            ))),
        }
    }
}

/// Strings from a JSON string, number or boolean; `null` is absent.
pub mod string {
    use super::*;

    /// Writes the string.
    pub fn serialize<S: Serializer>(v: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a string, or a number or boolean as its decimal/text form.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(other) => Err(D::Error::custom(format!(
                "expected a string, got {}",
                kind(&other)
            ))),
        }
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

    /// Reads a boolean in any common spelling.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(Value::Number(n)) => Ok(Some(n.as_f64().unwrap_or(0.0) != 0.0)),
            Some(Value::String(s)) => match s.trim() {
                "true" | "1" => Ok(Some(true)),
                "false" | "0" | "" => Ok(Some(false)),
                other => Err(D::Error::custom(format!(
                    "expected a boolean, got {other:?}"
                ))),
            },
            Some(other) => Err(D::Error::custom(format!(
                "expected a boolean, got {}",
                kind(&other)
            ))),
        }
    }
}

/// Lists where `null` means empty.
pub mod list {
    use super::*;

    /// Writes the list.
    pub fn serialize<S: Serializer, T: Serialize>(v: &[T], s: S) -> Result<S::Ok, S::Error> {
        v.serialize(s)
    }

    /// Reads a list, or `null` as an empty one.
    pub fn deserialize<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: DeserializeOwned,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
