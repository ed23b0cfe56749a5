//! Build script of `diskdb-core`: compiles the C request parser in `csrc/` with the `cc` crate.
//!
//! The C parser is used on native targets and on wasm32-wasip1 (compiled freestanding with clang,
//! so no wasi-libc is needed). On wasm32-unknown-unknown, with the `c-parser` feature off, or when no
//! C compiler for the target works, the Rust parser is used instead and the build only warns —
//! unless `DISKDB_REQUIRE_C_PARSER=1`, which the test command sets to prove the C path is built.

use std::env;
use std::path::PathBuf;

fn main() {
    let csrc =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets it")).join("../csrc");
    println!("cargo::rustc-check-cfg=cfg(diskdb_c_parser)");
    // Set by cargo-fuzz; the keyspace then uses small rank-index blocks (see keyspace/zset.rs).
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
    println!(
        "cargo::rerun-if-changed={}",
        csrc.join("diskdb_resp.c").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        csrc.join("diskdb_resp.h").display()
    );
    println!("cargo::rerun-if-env-changed=DISKDB_REQUIRE_C_PARSER");

    if env::var_os("CARGO_FEATURE_C_PARSER").is_none() {
        return;
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let target = env::var("TARGET").unwrap_or_default();
    let wasm = arch == "wasm32" || arch == "wasm64";
    if wasm && os != "wasi" {
        // Browsers have no C runtime to lean on and the design keeps this target pure Rust.
        return;
    }

    let mut build = cc::Build::new();
    build
        .file(csrc.join("diskdb_resp.c"))
        .include(&csrc)
        .std("c99")
        .warnings(true)
        .extra_warnings(true)
        .opt_level(3)
        .cargo_warnings(false);
    if wasm {
        // Freestanding: Debian's clang would otherwise pick up glibc headers for a wasm target.
        build.flag("-ffreestanding").flag("-nostdlibinc");
        let key = target.replace('-', "_");
        if env::var_os(format!("CC_{key}")).is_none() && env::var_os("CC").is_none() {
            build.compiler("clang-19");
        }
        if env::var_os(format!("AR_{key}")).is_none() && env::var_os("AR").is_none() {
            build.archiver("llvm-ar-19");
        }
    }

    match build.try_compile("diskdb_resp") {
        Ok(()) => println!("cargo::rustc-cfg=diskdb_c_parser"),
        Err(err) => {
            if env::var("DISKDB_REQUIRE_C_PARSER").as_deref() == Ok("1") {
                panic!("DISKDB_REQUIRE_C_PARSER=1 but the C parser did not compile for {target}: {err}");
            }
            println!(
                "cargo::warning=no working C compiler for {target} ({err}); using the Rust parser"
            );
        }
    }
}
