//! `ringwise verify`: not written yet.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("ringwise verify: not implemented yet");
    ExitCode::FAILURE
}
