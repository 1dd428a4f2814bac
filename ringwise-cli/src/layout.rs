//! `ringwise layout`: the exact memory of a ring, region by region, as the
//! library computes it (the same numbers `Builder` allocates and checks).

use crate::error::{parse_setup_flags, CliError};
use ringwise::{Layout, RingSpec, SetupFlags};
use serde_json::{json, Value};
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// SQ entries requested (the kernel rounds up to a power of two).
    #[arg(long)]
    pub entries: u32,
    /// CQ entries requested; implies CQSIZE.
    #[arg(long)]
    pub cq_entries: Option<u32>,
    /// Setup flags as the kernel names them without `IORING_SETUP_`,
    /// comma-separated: e.g. `SQE128,CQE32,NO_SQARRAY,CLAMP`.
    #[arg(long, default_value = "")]
    pub flags: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> ExitCode {
    match compute(&args) {
        Ok((spec, layout)) => {
            if args.json {
                println!("{}", to_json(&spec, &layout));
            } else {
                print_table(&spec, &layout);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            let errno = e.errno_name();
            if args.json {
                println!("{}", json!({ "error": e.to_string(), "errno": errno }));
            } else {
                eprintln!("ringwise layout: {e} ({errno})");
            }
            ExitCode::FAILURE
        }
    }
}

/// The spec and its layout, or why there is none.
fn compute(args: &Args) -> Result<(RingSpec, Layout), CliError> {
    let flags = parse_setup_flags(&args.flags)?;
    let spec = RingSpec { entries: args.entries, cq_entries: args.cq_entries, flags };
    let layout = spec.layout().map_err(CliError::Layout)?;
    Ok((spec, layout))
}

/// One part of a region: name, offset in the region, bytes, and how the
/// bytes come about.
struct Part {
    name: &'static str,
    offset: usize,
    bytes: usize,
    how: String,
}

/// The parts of the rings region, including the padding the kernel leaves
/// (cache-line alignment, and with CQE32 the doubled header).
fn rings_parts(l: &Layout) -> Vec<Part> {
    let cqes_end = l.cqes_offset() + l.cq_entries() as usize * l.cqe_slot_bytes();
    let after_cqes = l.sq_array_offset().unwrap_or(l.rings_used_bytes());
    let mut parts = vec![
        Part { name: "header", offset: 0, bytes: l.cqes_offset(), how: "struct io_rings".into() },
        Part {
            name: "CQEs",
            offset: l.cqes_offset(),
            bytes: cqes_end - l.cqes_offset(),
            how: format!("{} x {}", l.cq_entries(), l.cqe_slot_bytes()),
        },
    ];
    if after_cqes > cqes_end {
        let why =
            if l.flags().contains(SetupFlags::CQE32) { "CQE32 doubles header + CQEs" } else { "cache-line alignment" };
        parts.push(Part { name: "padding", offset: cqes_end, bytes: after_cqes - cqes_end, how: why.into() });
    }
    if let Some(array) = l.sq_array_offset() {
        parts.push(Part {
            name: "SQ array",
            offset: array,
            bytes: 4 * l.sq_entries() as usize,
            how: format!("{} x 4", l.sq_entries()),
        });
    }
    parts
}

/// One table row; empty cells for what a row does not have.
fn row(region: &str, part: &str, offset: Option<usize>, bytes: usize, pages: Option<usize>, note: &str) {
    let offset = offset.map_or(String::new(), |o| o.to_string());
    let pages = pages.map_or(String::new(), |p| p.to_string());
    let line = format!("{region:<8} {part:<10} {offset:>10} {bytes:>10} {pages:>7}  {note}");
    println!("{}", line.trim_end());
}

fn print_table(spec: &RingSpec, l: &Layout) {
    let page = l.page_size();
    let mut requested = format!("requested {}", spec.entries);
    if let Some(cq) = spec.cq_entries {
        requested.push_str(&format!(" / {cq}"));
    }
    println!(
        "ring: {} SQ entries, {} CQ entries ({requested}); flags [{}]; page size {page}",
        l.sq_entries(),
        l.cq_entries(),
        l.flags().names()
    );
    println!();
    println!("{:<8} {:<10} {:>10} {:>10} {:>7}", "region", "part", "offset", "bytes", "pages");
    for (i, p) in rings_parts(l).iter().enumerate() {
        row(if i == 0 { "rings" } else { "" }, p.name, Some(p.offset), p.bytes, None, &p.how);
    }
    row("", "used", None, l.rings_used_bytes(), None, "");
    row("", "region", None, l.rings_bytes(), Some(l.rings_pages()), "cq_off.user_addr");
    let how = format!("{} x {}", l.sq_entries(), l.sqe_bytes());
    row("sqes", "SQEs", Some(0), l.sqes_used_bytes(), None, &how);
    row("", "region", None, l.sqes_bytes(), Some(l.sqes_pages()), "sq_off.user_addr");
    let how = format!("one buffer: rings at 0, SQEs at {}", l.sqes_offset_in_buffer());
    row("total", "", None, l.total_bytes(), Some(l.total_bytes() / page), &how);
}

/// The layout as JSON: counts, sizes, pages and offsets.
pub fn to_json(spec: &RingSpec, l: &Layout) -> Value {
    let names: Vec<&str> = l.flags().iter_names().map(|(n, _)| n).collect();
    json!({
        "requested_entries": spec.entries,
        "requested_cq_entries": spec.cq_entries,
        "sq_entries": l.sq_entries(),
        "cq_entries": l.cq_entries(),
        "flags": names,
        "flags_bits": l.flags().bits(),
        "page_size": l.page_size(),
        "sqe_bytes": l.sqe_bytes(),
        "cqe_slot_bytes": l.cqe_slot_bytes(),
        "rings_used_bytes": l.rings_used_bytes(),
        "rings_bytes": l.rings_bytes(),
        "rings_pages": l.rings_pages(),
        "sqes_used_bytes": l.sqes_used_bytes(),
        "sqes_bytes": l.sqes_bytes(),
        "sqes_pages": l.sqes_pages(),
        "total_bytes": l.total_bytes(),
        "offsets": {
            "cqes": l.cqes_offset(),
            "sq_array": l.sq_array_offset(),
            "sqes_in_buffer": l.sqes_offset_in_buffer(),
        },
    })
}
