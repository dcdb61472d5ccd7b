//! Links with riscv-rt's `link.x` over this board's memory.x, and embeds the suite inputs that xtask
//! provides.

include!("../board-build.rs");

fn main() -> Result<(), String> {
    board_build(&["memory.x", "link.x"])
}
