//! FileBox: the JSON form (`JSON.stringify(FileBox)`, npm `file-box` 1.x) in which the service
//! passes files, parsed leniently into [`FileBox`] and written back for sends.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::error::{Error, Result};

/// A file as the puppet service passes it.
#[derive(Debug, Clone, PartialEq)]
pub enum FileBox {
    /// Type 1: the bytes inline, Base64-encoded (the service sends files up to 20 KiB so).
    Base64 {
        /// File name.
        name: String,
        /// The bytes, Base64 (standard alphabet, padded).
        base64: String,
    },
    /// Type 2: a URL to fetch, maybe with headers. This crate has no HTTP client: fetch it
    /// yourself.
    Url {
        /// File name.
        name: String,
        /// Where the bytes are.
        url: String,
        /// Headers to send with the GET.
        headers: Vec<(String, String)>,
    },
    /// Type 3: a QR code's text (the service renders it as an image).
    QrCode {
        /// File name.
        name: String,
        /// The QR code's content.
        qr_code: String,
    },
    /// Type 7: a file kept by the service, fetched with the `Download` stream.
    Uuid {
        /// File name.
        name: String,
        /// The service's id for the file.
        uuid: String,
        /// Size in bytes, if given.
        size: Option<u64>,
    },
    /// Any other type (4 Buffer, 5 File, 6 Stream are never serialized; unknown future types).
    Other {
        /// The `type` (or `boxType`) number, `-1` if absent.
        box_type: i64,
        /// The whole JSON object.
        json: Value,
    },
}

impl FileBox {
    /// An inline Base64 box holding `bytes`.
    pub fn from_bytes(name: impl Into<String>, bytes: &[u8]) -> FileBox {
        FileBox::Base64 {
            name: name.into(),
            base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        }
    }

    /// The file name, if the box has one.
    pub fn name(&self) -> Option<&str> {
        let name = match self {
            FileBox::Base64 { name, .. }
            | FileBox::Url { name, .. }
            | FileBox::QrCode { name, .. }
            | FileBox::Uuid { name, .. } => name.as_str(),
            FileBox::Other { json, .. } => json.get("name").and_then(Value::as_str)?,
        };
        (!name.is_empty()).then_some(name)
    }

    /// The bytes of an inline box: `Some` for [`FileBox::Base64`] (an error if the Base64 is
    /// bad), `None` for the other types.
    pub fn inline_bytes(&self) -> Option<Result<Vec<u8>>> {
        match self {
            FileBox::Base64 { base64, .. } => Some(decode_base64(base64)),
            _ => None,
        }
    }

    /// Parses the service's JSON. Accepts `type` or the older `boxType`, numbers as strings,
    /// unknown keys; fails only on invalid JSON or a known type missing its essential key.
    pub fn from_json(text: &str) -> Result<FileBox> {
        let value: Value = serde_json::from_str(text).map_err(|e| Error::Malformed {
            what: "FileBox JSON".into(),
            message: e.to_string(),
        })?;
        FileBox::from_value(value)
    }

    /// As [`FileBox::from_json`], from parsed JSON.
    pub fn from_value(value: Value) -> Result<FileBox> {
        let Value::Object(obj) = value else {
            return Err(Error::Malformed {
                what: "FileBox JSON".into(),
                message: "not a JSON object".into(),
            });
        };
        let box_type = int_field(&obj, "type")
            .or_else(|| int_field(&obj, "boxType"))
            .unwrap_or(-1);
        let name = str_field(&obj, "name").unwrap_or_default();
        let missing = |key: &str| Error::Malformed {
            what: "FileBox JSON".into(),
            message: format!("a FileBox of type {box_type} without `{key}`"),
        };
        Ok(match box_type {
            1 => FileBox::Base64 {
                name,
                base64: str_field(&obj, "base64").ok_or_else(|| missing("base64"))?,
            },
            2 => FileBox::Url {
                name,
                url: str_field(&obj, "url")
                    .or_else(|| str_field(&obj, "remoteUrl"))
                    .ok_or_else(|| missing("url"))?,
                headers: headers(obj.get("headers")),
            },
            3 => FileBox::QrCode {
                name,
                qr_code: str_field(&obj, "qrCode").ok_or_else(|| missing("qrCode"))?,
            },
            7 => FileBox::Uuid {
                name,
                uuid: str_field(&obj, "uuid").ok_or_else(|| missing("uuid"))?,
                size: int_field(&obj, "size").and_then(|n| u64::try_from(n).ok()),
            },
            _ => FileBox::Other {
                box_type,
                json: Value::Object(obj),
            },
        })
    }

    /// The JSON the service's `FileBox.fromJSON` reads (both `type` and `boxType` are written,
    /// for old and new services).
    pub fn to_json(&self) -> String {
        let value = match self {
            FileBox::Base64 { name, base64 } => json!({
                "type": 1, "boxType": 1, "name": name, "base64": base64, "metadata": {},
            }),
            FileBox::Url { name, url, headers } => {
                let headers: Map<String, Value> = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                json!({
                    "type": 2, "boxType": 2, "name": name, "url": url,
                    "headers": headers, "metadata": {},
                })
            }
            FileBox::QrCode { name, qr_code } => json!({
                "type": 3, "boxType": 3, "name": name, "qrCode": qr_code, "metadata": {},
            }),
            FileBox::Uuid { name, uuid, size } => {
                let mut v = json!({
                    "type": 7, "boxType": 7, "name": name, "uuid": uuid, "metadata": {},
                });
                if let (Some(size), Value::Object(obj)) = (size, &mut v) {
                    obj.insert("size".into(), json!(size));
                }
                v
            }
            FileBox::Other { json, .. } => json.clone(),
        };
        value.to_string()
    }
}

pub(crate) fn decode_base64(text: &str) -> Result<Vec<u8>> {
    // tolerate line breaks and the URL-safe alphabet; keep the padding optional
    let cleaned: String = text
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim_end_matches('=');
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(trimmed)
        .map_err(|e| Error::Malformed {
            what: "FileBox base64".into(),
            message: e.to_string(),
        })
}

fn str_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    match obj.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn int_field(obj: &Map<String, Value>, key: &str) -> Option<i64> {
    match obj.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn headers(v: Option<&Value>) -> Vec<(String, String)> {
    match v {
        Some(Value::Object(map)) => map
            .iter()
            .filter_map(|(k, v)| match v {
                Value::String(s) => Some((k.clone(), s.clone())),
                Value::Number(n) => Some((k.clone(), n.to_string())),
                Value::Array(items) => Some((
                    k.clone(),
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", "),
                )),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_type_leniently() {
        let b = FileBox::from_json(r#"{"type":1,"name":"a.txt","base64":"aGk=","size":2}"#);
        assert_eq!(
            b.ok(),
            Some(FileBox::Base64 {
                name: "a.txt".into(),
                base64: "aGk=".into()
            })
        );
        let b = FileBox::from_json(r#"{"boxType":"7","name":"x.bin","uuid":"u-1","size":"64"}"#);
        assert_eq!(
            b.ok(),
            Some(FileBox::Uuid {
                name: "x.bin".into(),
                uuid: "u-1".into(),
                size: Some(64)
            })
        );
        let b = FileBox::from_json(
            r#"{"type":2,"name":"p.png","url":"https://e/x","headers":{"a":"b","n":1}}"#,
        );
        assert!(matches!(b, Ok(FileBox::Url { ref headers, .. }) if headers.len() == 2));
        assert!(matches!(
            FileBox::from_json(r#"{"type":3,"qrCode":"q"}"#),
            Ok(FileBox::QrCode { .. })
        ));
        assert!(matches!(
            FileBox::from_json(r#"{"type":99,"name":"n"}"#),
            Ok(FileBox::Other { box_type: 99, .. })
        ));
        assert!(FileBox::from_json(r#"{"type":1,"name":"a"}"#).is_err());
        assert!(FileBox::from_json("[]").is_err());
        assert!(FileBox::from_json("not json").is_err());
        assert!(FileBox::from_json("").is_err());
    }

    #[test]
    fn round_trips_and_decodes() {
        let b = FileBox::from_bytes("报告.pdf", b"hello");
        assert_eq!(b.name(), Some("报告.pdf"));
        assert_eq!(
            b.inline_bytes().and_then(|r| r.ok()),
            Some(b"hello".to_vec())
        );
        let again = FileBox::from_json(&b.to_json()).ok();
        assert_eq!(again, Some(b));
        assert_eq!(decode_base64("aGVs\nbG8").ok(), Some(b"hello".to_vec()));
        assert!(decode_base64("***").is_err());
        let u = FileBox::Uuid {
            name: "a".into(),
            uuid: "u".into(),
            size: Some(3),
        };
        assert_eq!(FileBox::from_json(&u.to_json()).ok(), Some(u));
    }
}
