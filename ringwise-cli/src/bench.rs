//! `ringwise bench`: not written yet.

use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// NOP throughput.
    Nop,
}

pub fn run(_cmd: Command) -> ExitCode {
    eprintln!("ringwise bench: not implemented yet");
    ExitCode::FAILURE
}
