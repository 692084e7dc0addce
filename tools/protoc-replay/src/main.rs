//! Records what `protoc` would produce for etcd-client's build script, so that
//! building mkube needs no `protoc` on the machine.
//!
//! etcd-client compiles its `.proto` files in its build script through
//! prost-build, which runs the executable named by `PROTOC`. The workspace's
//! `.cargo/config.toml` points `PROTOC` at `tools/protoc-replay/protoc`, a
//! shell script that checks the requested files against the hashes recorded
//! here and writes the recorded `FileDescriptorSet`. prost-build then generates
//! the Rust code from that set exactly as it would from protoc's.
//!
//! Run this (with protox, a pure-Rust protobuf compiler) after upgrading
//! etcd-client, when the script says the protos changed:
//!
//! ```sh
//! cargo run --manifest-path tools/protoc-replay/Cargo.toml
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use prost::Message;
use sha2::{Digest, Sha256};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let workspace = here.join("../..").canonicalize()?;
    let crate_dir = etcd_client_dir(&workspace)?;
    let protos = requested_protos(&crate_dir.join("build.rs"))?;
    if protos.is_empty() {
        return Err("found no .proto paths in etcd-client's build.rs".into());
    }

    let mut compiler = protox::Compiler::new([crate_dir.join("proto")])?;
    compiler.include_imports(true).include_source_info(true);
    let relative: Vec<String> = protos
        .iter()
        .map(|p| p.trim_start_matches("proto/").to_string())
        .collect();
    compiler.open_files(&relative)?;
    let set = compiler.file_descriptor_set();
    std::fs::write(here.join("etcd-client.fds"), set.encode_to_vec())?;

    // The same lines `sha256sum FILE...` prints, in build.rs's order.
    let mut sums = String::new();
    for proto in &protos {
        let bytes = std::fs::read(crate_dir.join(proto))?;
        writeln!(sums, "{:x}  {proto}", Sha256::digest(&bytes))?;
    }
    std::fs::write(here.join("etcd-client.sha256"), sums)?;
    println!(
        "recorded {} files ({} descriptors) from {}",
        protos.len(),
        set.file.len(),
        crate_dir.display()
    );
    Ok(())
}

/// The source directory of the etcd-client crate the workspace resolves to.
fn etcd_client_dir(workspace: &Path) -> Result<PathBuf, Error> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .output()?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned().into());
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "etcd-client")
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("etcd-client is not a dependency of the workspace")?;
    Ok(Path::new(manifest)
        .parent()
        .ok_or("manifest without a directory")?
        .to_path_buf())
}

/// The `"proto/....proto"` literals of the build script, in order.
fn requested_protos(build_rs: &Path) -> Result<Vec<String>, Error> {
    let text = std::fs::read_to_string(build_rs)?;
    Ok(text
        .split('"')
        .filter(|s| s.starts_with("proto/") && s.ends_with(".proto"))
        .map(str::to_string)
        .collect())
}
