//! Compiles every `.proto` under `partnerhub/` with the pure-Rust `protox` (no system `protoc`),
//! generates the tonic clients and servers, and writes two descriptor sets for reflection: all
//! files, and the public files only (what the gateway shows).

use prost::Message;
use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    collect_protos(&root.join("partnerhub"), &mut files)?;
    files.sort();
    let relative: Vec<PathBuf> = files
        .iter()
        .map(|f| f.strip_prefix(root).map(Path::to_path_buf))
        .collect::<Result<_, _>>()?;

    let fds = protox::compile(&relative, [root])?;
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(out.join("descriptors.bin"), fds.encode_to_vec())?;

    // The gateway shows only the public contract: internal.proto files are left out.
    let public = prost_types::FileDescriptorSet {
        file: fds
            .file
            .iter()
            .filter(|f| !f.name().ends_with("/internal.proto"))
            .cloned()
            .collect(),
    };
    std::fs::write(out.join("public_descriptors.bin"), public.encode_to_vec())?;

    tonic_prost_build::configure()
        // Methods a later issue implements answer UNIMPLEMENTED until then.
        .generate_default_stubs(true)
        // prost's, but a request that doesn't decode is INVALID_ARGUMENT (src/codec.rs).
        .codec_path("crate::codec::Codec")
        .compile_fds(fds)?;

    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    // Vendored googleapis files the contract imports (google.api.field_behavior).
    println!("cargo:rerun-if-changed={}", root.join("google").display());
    Ok(())
}

fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
