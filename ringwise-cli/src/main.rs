//! `ringwise`: show ring layouts, probe the kernel, verify that the layout
//! arithmetic is exact on this kernel, and benchmark.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod bench;
mod error;
mod layout;
mod probe;
mod verify;

#[derive(Parser, Debug)]
#[command(
    name = "ringwise",
    version,
    about = "io_uring rings in exact memory: layouts, kernel probe, verification, benchmarks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Show the exact memory layout of a ring.
    Layout(layout::Args),
    /// Show what this kernel supports: release, features, opcodes, setup flags.
    Probe(probe::Args),
    /// Prove on this kernel that the layout arithmetic is exact.
    Verify(verify::Args),
    /// Benchmark ringwise on this machine.
    #[command(subcommand)]
    Bench(bench::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Layout(args) => layout::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}
