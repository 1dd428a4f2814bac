//! Compiles the C clients: the raw-syscall floor always, the liburing client
//! only where liburing-dev is installed (`cfg(has_liburing)`); without it the
//! benches print "skipped: liburing-dev not installed" for that client.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(has_liburing)");
    println!("cargo::rerun-if-changed=csrc/raw_floor.c");
    println!("cargo::rerun-if-changed=csrc/liburing_client.c");
    println!("cargo::rerun-if-changed=/usr/include/liburing.h");

    cc::Build::new().file("csrc/raw_floor.c").opt_level(2).flag_if_supported("-std=gnu11").compile("rwb_raw");

    // RINGWISE_BENCH_NO_LIBURING=1 builds as if liburing-dev were missing
    // (to check that path where it is installed).
    println!("cargo::rerun-if-env-changed=RINGWISE_BENCH_NO_LIBURING");
    let forced_off = std::env::var_os("RINGWISE_BENCH_NO_LIBURING").is_some_and(|v| v != "0");
    if !forced_off && Path::new("/usr/include/liburing.h").exists() {
        cc::Build::new()
            .file("csrc/liburing_client.c")
            .opt_level(2)
            .flag_if_supported("-std=gnu11")
            .compile("rwb_liburing");
        // Link liburing statically where the archive exists, so the bench
        // measures the version whose header it was compiled against.
        let dirs = ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"];
        match dirs.iter().find(|d| Path::new(d).join("liburing.a").exists()) {
            Some(dir) => {
                println!("cargo::rustc-link-search=native={dir}");
                println!("cargo::rustc-link-lib=static=uring");
            }
            None => println!("cargo::rustc-link-lib=dylib=uring"),
        }
        println!("cargo::rustc-cfg=has_liburing");
    }
}
