// Shared by the boards' build scripts (`include!`d by targets/*/build.rs): puts the board's memory.x
// where the runtime crate's linker script finds it, and turns the suite inputs that xtask provides
// into a Rust file that the firmware includes.
//
// xtask (`cargo xtask test-cross`) sets:
// - TRUENO_FIRMWARE_PAGES: path of the page file (whole 4 KiB pages) to embed;
// - TRUENO_FIRMWARE_DIGEST: the digest, in hex, that the host computed by running the same suite.

use std::path::PathBuf;

fn env(name: &str) -> Result<String, String> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).map_err(|_| {
        format!(
            "{name} is not set: build the firmware through `cargo xtask test-cross`, which writes the \
             page file and computes the expected digest on the host"
        )
    })
}

fn board_build(extra_link_scripts: &[&str]) -> Result<(), String> {
    let out = PathBuf::from(env("OUT_DIR")?);
    std::fs::copy("memory.x", out.join("memory.x")).map_err(|e| format!("copying memory.x: {e}"))?;
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    for script in extra_link_scripts {
        println!("cargo:rustc-link-arg=-T{script}");
    }

    let pages = PathBuf::from(env("TRUENO_FIRMWARE_PAGES")?);
    let len = std::fs::metadata(&pages)
        .map_err(|e| format!("page file {}: {e}", pages.display()))?
        .len();
    if len % 4096 != 0 {
        return Err(format!(
            "page file {} is {len} bytes, not whole 4 KiB pages",
            pages.display()
        ));
    }
    println!("cargo:rerun-if-changed={}", pages.display());
    let digest_text = env("TRUENO_FIRMWARE_DIGEST")?;
    let digest = u64::from_str_radix(digest_text.trim_start_matches("0x"), 16)
        .map_err(|e| format!("TRUENO_FIRMWARE_DIGEST={digest_text}: {e}"))?;
    let source = format!(
        "/// The pages embedded at build time (from TRUENO_FIRMWARE_PAGES).\n\
         pub static PAGES: &[u8] = include_bytes!({pages:?});\n\
         /// The digest the host computed for these pages (TRUENO_FIRMWARE_DIGEST).\n\
         pub const EXPECTED_DIGEST: u64 = {digest:#018x};\n"
    );
    std::fs::write(out.join("suite_input.rs"), source)
        .map_err(|e| format!("writing suite_input.rs: {e}"))
}
