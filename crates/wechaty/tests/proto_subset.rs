//! The hand-written `.proto` subset in `proto/` against the real thing: the protos inside
//! the test peer's `node_modules/wechaty-grpc` (1.5.2). Every RPC we declare must exist
//! upstream with the same request/response types and streaming, and every field we declare
//! must have the same number, type and label — otherwise the bytes on the wire would differ.

mod common;

use std::collections::HashMap;
use std::path::Path;

use prost_types::{DescriptorProto, FileDescriptorSet};

/// Drops the REST/OpenAPI annotations (their imports are not shipped in the npm package, and
/// they do not change the wire format).
fn strip_annotations(src: &str) -> String {
    let mut kept = String::new();
    for line in src.lines() {
        let t = line.trim_start();
        if t.starts_with("import \"google/api/") || t.starts_with("import \"protoc-gen-openapiv2/")
        {
            continue;
        }
        kept.push_str(line);
        kept.push('\n');
    }
    let b = kept.as_bytes();
    let mut out = String::with_capacity(kept.len());
    let mut i = 0;
    while i < b.len() {
        if kept[i..].starts_with("option") {
            let rest = kept[i + 6..].trim_start();
            if rest.starts_with("(google.api.") || rest.starts_with("(grpc.gateway.") {
                let open = i + kept[i..].find('{').expect("option block with '{'");
                let (mut j, mut depth, mut quote) = (open + 1, 1, None::<u8>);
                while j < b.len() && depth > 0 {
                    let c = b[j];
                    match quote {
                        Some(_) if c == b'\\' => j += 1,
                        Some(q) if c == q => quote = None,
                        Some(_) => {}
                        None => match c {
                            b'"' | b'\'' => quote = Some(c),
                            b'{' => depth += 1,
                            b'}' => depth -= 1,
                            _ => {}
                        },
                    }
                    j += 1;
                }
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && b[j] == b';' {
                    j += 1;
                }
                i = j;
                continue;
            }
        }
        let ch = kept[i..].chars().next().expect("char");
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

fn copy_stripped(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let (a, b) = (entry.path(), to.join(entry.file_name()));
        if a.is_dir() {
            copy_stripped(&a, &b);
        } else if a.extension().is_some_and(|x| x == "proto") {
            let src = std::fs::read_to_string(&a).expect("read proto");
            std::fs::write(&b, strip_annotations(&src)).expect("write proto");
        }
    }
}

fn messages(fds: &FileDescriptorSet) -> HashMap<String, DescriptorProto> {
    let mut out = HashMap::new();
    for file in &fds.file {
        for m in &file.message_type {
            out.insert(format!(".{}.{}", file.package(), m.name()), m.clone());
        }
    }
    out
}

#[test]
fn proto_subset_matches_wechaty_grpc_1_5_2() {
    let peer = common::peer_dir();
    let upstream_src = peer.join("node_modules/wechaty-grpc/dist/esm/proto");
    assert!(
        upstream_src.exists(),
        "{} is missing: run `npm ci --prefix tests/wechaty-peer`",
        upstream_src.display()
    );
    let tmp = std::env::temp_dir().join(format!("wechaty-proto-{}", std::process::id()));
    copy_stripped(&upstream_src, &tmp);
    let upstream =
        protox::compile(["wechaty/puppet.proto"], [&tmp]).expect("upstream protos compile");
    let _ = std::fs::remove_dir_all(&tmp);
    let ours_dir = common::peer_dir().join("../../crates/wechaty/proto");
    let ours = protox::compile(["wechaty/puppet.proto"], [&ours_dir]).expect("our protos compile");

    let service = |fds: &FileDescriptorSet| {
        fds.file
            .iter()
            .find(|f| f.name() == "wechaty/puppet.proto")
            .and_then(|f| f.service.iter().find(|s| s.name() == "Puppet"))
            .cloned()
            .expect("service wechaty.Puppet")
    };
    let theirs_svc = service(&upstream);
    let mut rpcs = 0;
    for m in &service(&ours).method {
        let t = theirs_svc
            .method
            .iter()
            .find(|t| t.name() == m.name())
            .unwrap_or_else(|| panic!("RPC {} does not exist upstream", m.name()));
        assert_eq!(
            (
                m.input_type(),
                m.output_type(),
                m.client_streaming(),
                m.server_streaming()
            ),
            (
                t.input_type(),
                t.output_type(),
                t.client_streaming(),
                t.server_streaming()
            ),
            "RPC {}",
            m.name()
        );
        rpcs += 1;
    }
    assert!(rpcs >= 20, "{rpcs} RPCs");

    let theirs = messages(&upstream);
    let mut fields = 0;
    for (name, m) in messages(&ours) {
        let t = theirs
            .get(&name)
            .unwrap_or_else(|| panic!("message {name} does not exist upstream"));
        for f in &m.field {
            let tf = t
                .field
                .iter()
                .find(|tf| tf.number() == f.number())
                .unwrap_or_else(|| panic!("{name}.{} (#{}) not upstream", f.name(), f.number()));
            assert_eq!(
                (
                    f.name(),
                    f.r#type(),
                    f.label(),
                    f.type_name(),
                    f.proto3_optional()
                ),
                (
                    tf.name(),
                    tf.r#type(),
                    tf.label(),
                    tf.type_name(),
                    tf.proto3_optional()
                ),
                "{name} field #{}",
                f.number()
            );
            fields += 1;
        }
    }
    assert!(fields >= 75, "{fields} fields compared");

    // enums we declare: same values
    for file in &ours.file {
        for e in &file.enum_type {
            let full = format!("{}.{}", file.package(), e.name());
            let t = upstream
                .file
                .iter()
                .filter(|f| f.package() == file.package())
                .flat_map(|f| f.enum_type.iter())
                .find(|te| te.name() == e.name())
                .unwrap_or_else(|| panic!("enum {full} not upstream"));
            for v in &e.value {
                assert!(
                    t.value
                        .iter()
                        .any(|tv| tv.name() == v.name() && tv.number() == v.number()),
                    "{full}.{} = {}",
                    v.name(),
                    v.number()
                );
            }
        }
    }
}
