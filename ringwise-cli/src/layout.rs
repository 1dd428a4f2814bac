//! `ringwise layout`: not written yet.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {}

pub fn run(_args: Args) -> ExitCode {
    eprintln!("ringwise layout: not implemented yet");
    ExitCode::FAILURE
}
