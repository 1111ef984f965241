//! Compiles the kernel fast path (bpf/offload.c) with clang when it is there.
//!
//! Without clang the relay builds all the same, without `--offload` (it then says so and
//! exits). `EDGETURN_REQUIRE_OFFLOAD=1` (set by `cargo xtask test`) makes a missing clang an
//! error, so a build that is meant to carry the fast path cannot lose it quietly.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(edgeturn_offload)");
    println!("cargo::rerun-if-changed=bpf/offload.c");
    println!("cargo::rerun-if-env-changed=EDGETURN_REQUIRE_OFFLOAD");
    println!("cargo::rerun-if-env-changed=CLANG");
    let required = std::env::var("EDGETURN_REQUIRE_OFFLOAD").is_ok_and(|v| v == "1");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("offload.o");
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang".into());
    let multiarch = format!(
        "/usr/include/{}-linux-gnu",
        std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default()
    );
    let result = Command::new(&clang)
        .args([
            "-O2",
            "-g",
            "-Wall",
            "-Werror",
            "-target",
            "bpf",
            "-I",
            &multiarch,
            "-c",
            "bpf/offload.c",
            "-o",
        ])
        .arg(&out)
        .output();
    match result {
        Ok(o) if o.status.success() => println!("cargo::rustc-cfg=edgeturn_offload"),
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr).into_owned();
            if required {
                panic!("bpf/offload.c did not compile:\n{why}");
            }
            println!(
                "cargo::warning=relay-native builds without the kernel fast path: bpf/offload.c did not compile: {}",
                why.lines().next().unwrap_or("")
            );
        }
        Err(e) => {
            if required {
                panic!(
                    "EDGETURN_REQUIRE_OFFLOAD=1 but `{clang}` cannot run ({e}); `cargo xtask setup` installs clang and libbpf-dev"
                );
            }
            println!(
                "cargo::warning=relay-native builds without the kernel fast path (--offload): `{clang}` not found ({e})"
            );
        }
    }
}
