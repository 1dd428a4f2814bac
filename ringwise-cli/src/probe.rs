//! `ringwise probe`: what the running kernel supports, asked of the kernel
//! itself: release, feature bits, opcodes (`IORING_REGISTER_PROBE`) and each
//! setup flag tried on a real ring.

use ringwise::op::name as opcode_name;
use ringwise::op::{OpInfo, CATALOG};
use ringwise::probe::{self, FlagSupport, Probe};
use ringwise::{errno_name, Features};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let release = probe::kernel_release();
    let features = probe::features();
    let opcodes = Probe::new();
    let flags = probe::setup_flag_support();
    if args.json {
        let mut v = to_json(&release, &features, &opcodes, &flags);
        // A probe that failed is still one JSON object, with the first
        // failure's error and errno at the top as every error has them.
        if let Some(e) = features.as_ref().err().or(opcodes.as_ref().err()) {
            v["error"] = json!(e.to_string());
            v["errno"] = json!(e.errno_name());
        }
        outln!("{v}");
    } else {
        print_text(&release, &features, &opcodes, &flags);
    }
    if features.is_err() || opcodes.is_err() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Named feature bits, and the bits this ringwise has no name for.
fn feature_names(f: Features) -> (Vec<&'static str>, u32) {
    let names: Vec<&'static str> = f.iter_names().map(|(n, _)| n).collect();
    let known = f.iter_names().fold(0u32, |acc, (_, bit)| acc | bit.bits());
    (names, f.bits() & !known)
}

fn op_label(op: u8) -> String {
    opcode_name(op).map_or_else(|| format!("op{op}"), str::to_string)
}

fn print_text(
    release: &str,
    features: &ringwise::Result<Features>,
    opcodes: &ringwise::Result<Probe>,
    flags: &[FlagSupport],
) {
    outln!("kernel: {release}");
    match features {
        Ok(f) => {
            let (names, unknown) = feature_names(*f);
            outln!("features ({:#x}, {} named): {}", f.bits(), names.len(), names.join(" "));
            if unknown != 0 {
                outln!("  bits without a name in ringwise: {unknown:#x}");
            }
        }
        Err(e) => outln!("features: unavailable: {e}"),
    }
    match opcodes {
        Ok(p) => {
            let supported: Vec<String> = p.opcodes().map(op_label).collect();
            outln!("opcodes ({} supported, last_op {}):", supported.len(), p.last_op());
            // Each column as wide as its longest cell in the catalog.
            let width = |cell: &dyn Fn(&OpInfo) -> usize, header: &str| {
                CATALOG.iter().map(cell).chain([header.len()]).max().unwrap_or(0)
            };
            let name_w = width(&|i| i.name.len(), "opcode");
            let since_w = width(&|i| i.since.len(), "since");
            let builders_w = width(&|i| i.builders.join(", ").len(), "ringwise::op");
            let line = |op: &str, name: &str, since: &str, here: &str, builders: &str, liburing: &str| {
                let line = format!(
                    "  {op:>3}  {name:<name_w$} {since:<since_w$} {here:<4}  {builders:<builders_w$} {liburing}"
                );
                outln!("{}", line.trim_end());
            };
            line("#", "opcode", "since", "here", "ringwise::op", "liburing");
            for info in CATALOG {
                let here = if p.supports(info.opcode) { "yes" } else { "no" };
                let op = info.opcode.to_string();
                line(&op, info.name, info.since, here, &info.builders.join(", "), &info.liburing.join(", "));
            }
            let beyond: Vec<String> = p.opcodes().filter(|&op| OpInfo::get(op).is_none()).map(op_label).collect();
            if !beyond.is_empty() {
                outln!("  supported by this kernel but unknown to ringwise: {}", beyond.join(" "));
            }
        }
        Err(e) => outln!("opcodes: unavailable: {e}"),
    }
    outln!("setup flags:");
    for s in flags {
        let with =
            if s.tried_with.is_empty() { String::new() } else { format!(" (tried with {})", s.tried_with.names()) };
        match s.result {
            Ok(()) => outln!("  {:<20} accepted{with}", s.name),
            Err(errno) => outln!("  {:<20} refused: {}{with}", s.name, errno_name(errno)),
        }
    }
}

fn to_json(
    release: &str,
    features: &ringwise::Result<Features>,
    opcodes: &ringwise::Result<Probe>,
    flags: &[FlagSupport],
) -> Value {
    let features = match features {
        Ok(f) => {
            let (names, unknown) = feature_names(*f);
            json!({ "bits": f.bits(), "names": names, "unnamed_bits": unknown })
        }
        Err(e) => json!({ "error": e.to_string(), "errno": e.errno_name() }),
    };
    let opcodes = match opcodes {
        Ok(p) => {
            let supported: Vec<Value> = p.opcodes().map(|op| json!({ "op": op, "name": opcode_name(op) })).collect();
            let unsupported: Vec<Value> = (0..=255u8)
                .filter(|&op| opcode_name(op).is_some() && !p.supports(op))
                .map(|op| json!({ "op": op, "name": opcode_name(op) }))
                .collect();
            let catalog: Vec<Value> = CATALOG
                .iter()
                .map(|info| {
                    json!({
                        "op": info.opcode,
                        "name": info.name,
                        "since": info.since,
                        "supported": p.supports(info.opcode),
                        "builders": info.builders,
                        "liburing": info.liburing,
                    })
                })
                .collect();
            json!({ "last_op": p.last_op(), "supported": supported, "unsupported": unsupported, "catalog": catalog })
        }
        Err(e) => json!({ "error": e.to_string(), "errno": e.errno_name() }),
    };
    let flags: Vec<Value> = flags
        .iter()
        .map(|s| {
            let with: Vec<&str> = s.tried_with.iter_names().map(|(n, _)| n).collect();
            json!({
                "name": s.name,
                "bit": s.flag.bits(),
                "accepted": s.result.is_ok(),
                "errno": s.result.err().map(errno_name),
                "tried_with": with,
            })
        })
        .collect();
    json!({ "kernel": release, "features": features, "opcodes": opcodes, "setup_flags": flags })
}
