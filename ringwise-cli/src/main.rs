//! `ringwise`: show ring layouts, probe the kernel, verify that the layout
//! arithmetic is exact on this kernel, and benchmark.

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[macro_use]
mod output;

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
    /// Show the exact memory layout of a ring, and its RLIMIT_MEMLOCK charge.
    Layout(layout::Args),
    /// Show what this kernel supports: release, features, opcodes, setup flags.
    Probe(probe::Args),
    /// Prove on this kernel that the layout arithmetic and the memlock charge are exact.
    Verify(verify::Args),
    /// Benchmark ringwise on this machine.
    #[command(subcommand)]
    Bench(bench::Command),
}

fn main() -> ExitCode {
    // Whether the user asked for JSON, known even when clap refuses the rest
    // of the command line, so that its error is JSON too.
    let json = std::env::args_os().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e, json),
    };
    match cli.command {
        Command::Layout(args) => layout::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Bench(cmd) => bench::run(cmd),
    }
}

/// What clap could not parse (or `--help` / `--version`, which clap reports
/// the same way): help and version on stdout with status 0; errors as clap
/// prints them (status 2), or with `--json` as one JSON error object.
fn usage_error(e: clap::Error, json: bool) -> ExitCode {
    let text = e.render().to_string();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            output::write_stdout(format_args!("{text}"), false);
            ExitCode::SUCCESS
        }
        _ if json => {
            let message = clap_message(&text);
            output::report("", true, &error::CliError::Usage { message }, ExitCode::from(2))
        }
        _ => {
            let _ = e.print();
            ExitCode::from(2)
        }
    }
}

/// clap's error text reduced to its first paragraph on one line, without
/// the `error: ` prefix and the usage and `--help` hints.
fn clap_message(text: &str) -> String {
    let first = text.split("\n\n").next().unwrap_or(text);
    let joined: Vec<&str> = first.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let joined = joined.join(" ");
    joined.strip_prefix("error: ").unwrap_or(&joined).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn clap_messages_are_one_line() {
        let text = "error: the following required arguments were not provided:\n  --entries <ENTRIES>\n\nUsage: x\n";
        assert_eq!(
            super::clap_message(text),
            "the following required arguments were not provided: --entries <ENTRIES>"
        );
    }
}
