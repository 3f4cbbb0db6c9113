//! Writes bgctl's man pages, built from the same clap definitions as its
//! help: `cargo run --bin bgctl-man -- DIR` gives DIR/bgctl.1 and a
//! DIR/bgctl-<command>.1 per command, for packaging.

use std::path::PathBuf;

use clap::CommandFactory;

fn main() -> std::io::Result<()> {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: bgctl-man DIR   (writes DIR/bgctl.1 and DIR/bgctl-<command>.1)");
        std::process::exit(2);
    };
    std::fs::create_dir_all(&dir)?;
    clap_mangen::generate_to(bgctl::cli::Cli::command(), &dir)?;
    eprintln!("bgctl-man: wrote the man pages to {}", dir.display());
    Ok(())
}
