//! Tool schemas every client reads without a warning. schemars writes Rust's view of a type;
//! strict validators (ajv in the TypeScript SDK, the Inspector's `--strict` lint, Gemini's
//! OpenAPI subset) each object to part of it. [`standardize`] rewrites a schema, once, into the
//! portable subset of JSON Schema 2020-12:
//!
//! - only the standard `format`s: Rust's `uint32`, `uint64`, `int64`, `double`… are dropped and
//!   an unsigned integer gets `minimum: 0` instead;
//! - a nullable value `"type": ["T", "null"]` becomes `anyOf: [{"type": "T"}, {"type": "null"}]`
//!   when the property is always present, and plain `T` when it is optional (our optional
//!   fields are left out rather than written as `null`);
//! - descriptions on one line; `$schema` (2020-12 is MCP's default dialect), empty-string
//!   defaults (an empty string means "not given" anyway) and `additionalProperties: true` (the
//!   default) are left out. The schemas are listed to every client with every `tools/list`, so
//!   no byte is spent on what says nothing.

use serde_json::{Map, Value};

/// The `format` values JSON Schema 2020-12 defines.
pub const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

/// Rewrites a schema into the portable subset (see the module docs).
pub fn standardize(schema: &mut Map<String, Value>) {
    schema.remove("$schema");
    walk(schema);
}

fn walk(node: &mut Map<String, Value>) {
    fix_format(node);
    if let Some(Value::String(d)) = node.get_mut("description") {
        *d = one_line(d);
    }
    if node.get("default") == Some(&Value::String(String::new())) {
        node.remove("default");
    }
    if node.get("additionalProperties") == Some(&Value::Bool(true)) {
        node.remove("additionalProperties");
    }
    let required: Vec<String> = match node.get("required") {
        Some(Value::Array(r)) => r
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(Value::Object(props)) = node.get_mut("properties") {
        for (name, prop) in props.iter_mut() {
            if let Value::Object(p) = prop {
                fix_nullable(p, required.contains(name));
            }
        }
    }
    for (key, value) in node.iter_mut() {
        match (key.as_str(), value) {
            ("properties" | "$defs" | "definitions" | "patternProperties", Value::Object(m)) => {
                for v in m.values_mut() {
                    if let Value::Object(o) = v {
                        walk(o);
                    }
                }
            }
            ("anyOf" | "oneOf" | "allOf" | "prefixItems", Value::Array(list)) => {
                for v in list {
                    if let Value::Object(o) = v {
                        walk(o);
                    }
                }
            }
            (
                "items" | "additionalProperties" | "not" | "if" | "then" | "else",
                Value::Object(o),
            ) => walk(o),
            _ => {}
        }
    }
}

/// Replaces a non-standard `format` by what it means.
fn fix_format(node: &mut Map<String, Value>) {
    let Some(Value::String(format)) = node.get("format") else {
        return;
    };
    if STANDARD_FORMATS.contains(&format.as_str()) {
        return;
    }
    // The width of an integer says nothing an agent needs (the descriptions give the ranges
    // that matter); its sign does.
    let unsigned = format.starts_with("uint");
    node.remove("format");
    if unsigned {
        node.entry("minimum").or_insert(Value::from(0));
    }
}

/// `"type": [T, "null"]` → `anyOf` (always present) or `T` (optional).
fn fix_nullable(node: &mut Map<String, Value>, required: bool) {
    let Some(Value::Array(types)) = node.get("type") else {
        return;
    };
    let non_null: Vec<Value> = types
        .iter()
        .filter(|t| t.as_str() != Some("null"))
        .cloned()
        .collect();
    if non_null.len() == types.len() {
        return;
    }
    let single = match non_null.as_slice() {
        [one] => one.clone(),
        _ => Value::Array(non_null),
    };
    if !required {
        node.insert("type".into(), single);
        return;
    }
    node.remove("type");
    // The constraints of the value go into its branch; what describes the property stays.
    let mut branch = Map::new();
    branch.insert("type".into(), single);
    let keys: Vec<String> = node
        .keys()
        .filter(|k| !matches!(k.as_str(), "description" | "title" | "default" | "examples"))
        .cloned()
        .collect();
    for k in keys {
        if let Some(v) = node.remove(&k) {
            branch.insert(k, v);
        }
    }
    let null = Value::Object(Map::from_iter([("type".to_string(), Value::from("null"))]));
    node.insert(
        "anyOf".into(),
        Value::Array(vec![Value::Object(branch), null]),
    );
}

/// Line breaks (from multi-line doc comments) become spaces.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every problem a strict client would report in `schema`: non-standard formats, `type`
/// arrays, line breaks in descriptions, `$schema`. Empty when the schema is portable.
pub fn problems(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    find_problems(schema, "#", &mut out);
    out
}

fn find_problems(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let here = format!("{at}/{k}");
                match (k.as_str(), child) {
                    ("format", Value::String(f)) if !STANDARD_FORMATS.contains(&f.as_str()) => {
                        out.push(format!("{here}: format {f:?}"))
                    }
                    ("type", Value::Array(_)) => out.push(format!("{here}: a type array")),
                    ("description", Value::String(d)) if d.contains('\n') => {
                        out.push(format!("{here}: a line break"))
                    }
                    ("$schema", _) => out.push(format!("{here}: $schema")),
                    _ => {}
                }
                if k != "default" && k != "examples" && k != "const" && k != "enum" {
                    find_problems(child, &here, out);
                }
            }
        }
        Value::Array(list) => {
            for (i, child) in list.iter().enumerate() {
                find_problems(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn std(v: Value) -> Value {
        let Value::Object(mut m) = v else {
            panic!("an object")
        };
        standardize(&mut m);
        Value::Object(m)
    }

    #[test]
    fn formats_become_bounds() {
        let s = std(json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "limit": {"type": "integer", "format": "uint32", "minimum": 0, "default": 50},
                "total": {"type": "integer", "format": "uint64", "minimum": 0},
                "ms": {"type": "integer", "format": "int64"},
                "timeout": {"type": "number", "format": "double"},
                "at": {"type": "string", "format": "date-time"},
                "name": {"type": "string", "default": ""}
            }
        }));
        assert_eq!(
            s,
            json!({
                "type": "object",
                "properties": {
                    "limit": {"type": "integer", "minimum": 0, "default": 50},
                    "total": {"type": "integer", "minimum": 0},
                    "ms": {"type": "integer"},
                    "timeout": {"type": "number"},
                    "at": {"type": "string", "format": "date-time"},
                    "name": {"type": "string"}
                }
            })
        );
        assert!(problems(&s).is_empty());
    }

    #[test]
    fn nullable_fields_become_any_of_or_optional() {
        let s = std(json!({
            "type": "object",
            "required": ["message_id"],
            "properties": {
                "message_id": {"type": ["string", "null"], "description": "The id,\nif known."},
                "index": {"type": ["integer", "null"], "format": "uint32", "minimum": 0}
            },
            "$defs": {"Inner": {"type": "object", "required": ["n"],
                "properties": {"n": {"type": ["integer", "null"], "format": "uint64", "minimum": 0}}}}
        }));
        assert_eq!(
            s["properties"]["message_id"],
            json!({"description": "The id, if known.", "anyOf": [{"type": "string"}, {"type": "null"}]})
        );
        assert_eq!(
            s["properties"]["index"],
            json!({"type": "integer", "minimum": 0})
        );
        assert_eq!(
            s["$defs"]["Inner"]["properties"]["n"],
            json!({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "null"}]})
        );
        assert!(problems(&s).is_empty(), "{:?}", problems(&s));
    }

    #[test]
    fn problems_are_found() {
        let p = problems(
            &json!({"$schema": "x", "properties": {"a": {"type": ["string", "null"],
            "format": "uint32", "description": "two\nlines"}}}),
        );
        assert_eq!(p.len(), 4, "{p:?}");
    }
}
