//! The generated protobuf messages and the tonic client (private).
#![allow(missing_docs, clippy::all, clippy::pedantic, dead_code)]

pub mod wechaty {
    tonic::include_proto!("wechaty");
    pub mod puppet {
        tonic::include_proto!("wechaty.puppet");
    }
}
