//! Build script of `diskdb-benches`: links hiredis (Debian's `libhiredis-dev`, installed by
//! `scripts/setup.sh`), whose reply reader is a peer in the parser benchmark. Bench binaries only,
//! so nothing else in the workspace depends on it.

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-link-arg-benches=-lhiredis");
}
