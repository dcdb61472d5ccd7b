//! `trueno-zram-generator`: a drop-in replacement for systemd's zram-generator (see
//! [`trueno_ublk::generator`]).

fn main() {
    // args_os: a non-UTF-8 argument must become a usage error, not a panic.
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    std::process::exit(trueno_ublk::generator::main_with_args(&args));
}
