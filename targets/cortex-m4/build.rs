//! Links with cortex-m-rt's `link.x` (and defmt's `defmt.x` for the defmt build) over this board's
//! memory.x, and embeds the suite inputs that xtask provides.

include!("../board-build.rs");

fn main() -> Result<(), String> {
    let defmt = std::env::var_os("CARGO_FEATURE_DEFMT").is_some();
    board_build(if defmt {
        &["link.x", "defmt.x"]
    } else {
        &["link.x"]
    })
}
