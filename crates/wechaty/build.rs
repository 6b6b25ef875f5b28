//! Compiles the hand-written proto subset in `proto/` with protox (pure Rust: no protoc on
//! the build machine) and generates the tonic client with tonic-prost-build.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let fds = protox::compile(["wechaty/puppet.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_server(false)
        .compile_fds(fds)?;
    Ok(())
}
