//! Writing to stdout and stderr without panicking, and reporting errors as
//! text or JSON.
//!
//! `println!` panics when stdout is a pipe whose reader has gone
//! (`ringwise probe | head -1`): Rust ignores SIGPIPE, so the write fails
//! with EPIPE and the macro turns that into a panic. Every line `ringwise`
//! prints goes through `outln!` instead: on EPIPE the reader has all it
//! wanted, so the process ends quietly with status 0; any other write error
//! is reported on stderr with status 1. Messages to stderr go through
//! `errln!`, which ignores write errors (there is nowhere left to report
//! them).

use crate::error::{with_errno, CliError};
use serde_json::json;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

/// Print a line on stdout; end the process quietly if stdout is closed.
macro_rules! outln {
    () => {
        $crate::output::write_stdout(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::output::write_stdout(format_args!($($arg)*), true)
    };
}

/// Print a line on stderr, ignoring write errors.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::write_stderr(format_args!($($arg)*))
    };
}

/// Write `args` (and a newline if `newline`) to stdout; on failure end the
/// process: quietly with 0 when the reader has gone (EPIPE), else with 1.
pub fn write_stdout(args: fmt::Arguments<'_>, newline: bool) {
    let mut out = io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) });
    let result = result.and_then(|()| out.flush());
    if let Err(e) = result {
        drop(out);
        stdout_failed(&e);
    }
}

/// Write a line to stderr; a failure is ignored (nowhere left to say so).
pub fn write_stderr(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

#[cold]
fn stdout_failed(e: &io::Error) -> ! {
    if e.kind() == io::ErrorKind::BrokenPipe {
        // The reader took what it wanted and left: not an error.
        std::process::exit(0);
    }
    write_stderr(format_args!("ringwise: cannot write to stdout: {e}"));
    std::process::exit(1);
}

/// The result of a command as its exit status: on error, one JSON object
/// `{"error", "errno"}` on stdout with `json`, else `ringwise <command>:
/// <message> (<ERRNO>)` on stderr.
pub fn finish(command: &str, json: bool, result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(command, json, &e, ExitCode::FAILURE),
    }
}

/// Report `e` as [`finish`] does and return `code`.
pub fn report(command: &str, json: bool, e: &CliError, code: ExitCode) -> ExitCode {
    if json {
        outln!("{}", json!({ "error": e.to_string(), "errno": e.errno_name() }));
    } else {
        errln!("ringwise {command}: {}", with_errno(e));
    }
    code
}
