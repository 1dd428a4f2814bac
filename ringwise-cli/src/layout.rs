//! `ringwise layout`: the exact memory of a ring, region by region, as the
//! library computes it (the same numbers `Builder` allocates and checks),
//! and the ring's exact `RLIMIT_MEMLOCK` charge.
//!
//! Without flags it shows the ring `Builder::new(entries)` sets up on this
//! kernel: the builder drops the SQ index array (`NO_SQARRAY`, Linux 6.6)
//! where the kernel has it, so the layout does too, and says so;
//! `--keep-sq-array` shows the ring with the array.

use crate::error::{parse_setup_flags, CliError};
use crate::output::finish;
use ringwise::memlock::{self, MemlockCharge, RingMemoryKind};
use ringwise::{Builder, Cqe16, Layout, RingSpec, SetupFlags, Sqe64};
use serde_json::{json, Value};
use std::process::ExitCode;

/// Show the exact memory layout of a ring and its RLIMIT_MEMLOCK charge.
///
/// The default is the ring `Builder` sets up on this kernel: Builder drops
/// the SQ index array with NO_SQARRAY (Linux 6.6) where the kernel accepts
/// it, and so does this command (the output says which applies). Give
/// `--keep-sq-array` for a ring with the array, or `--flags NO_SQARRAY` to
/// drop it whatever the kernel.
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
    /// Keep the SQ index array even where the kernel has NO_SQARRAY (what
    /// `Builder::keep_sq_array` does); by default the layout is Builder's:
    /// without the array where this kernel accepts NO_SQARRAY.
    #[arg(long)]
    pub keep_sq_array: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let result = compute(&args).map(|(spec, layout, sq_array)| {
        if args.json {
            outln!("{}", to_json(&spec, &layout, &sq_array));
        } else {
            print_table(&spec, &layout, &sq_array);
        }
    });
    finish("layout", args.json, result)
}

/// The spec and its layout, or why there is none; and a sentence saying
/// whether the ring has an SQ index array and why.
fn compute(args: &Args) -> Result<(RingSpec, Layout, String), CliError> {
    let mut flags = parse_setup_flags(&args.flags)?;
    let asked_none = flags.contains(SetupFlags::NO_SQARRAY);
    if asked_none && args.keep_sq_array {
        return Err(CliError::Conflict { first: "--keep-sq-array", second: "--flags NO_SQARRAY" });
    }
    let sq_array = if asked_none {
        "none (NO_SQARRAY given)".to_string()
    } else if args.keep_sq_array {
        "kept (--keep-sq-array; Builder::keep_sq_array)".to_string()
    } else if builder_drops_sq_array() {
        flags |= SetupFlags::NO_SQARRAY;
        "none: NO_SQARRAY added, as Builder does on this kernel (which accepts it); --keep-sq-array keeps the array"
            .to_string()
    } else {
        "kept: this kernel refuses NO_SQARRAY (Linux 6.6+), so Builder keeps the array".to_string()
    };
    let spec = RingSpec { entries: args.entries, cq_entries: args.cq_entries, flags };
    let layout = spec.layout().map_err(CliError::Layout)?;
    Ok((spec, layout, sq_array))
}

/// Whether `Builder` drops the SQ index array by default on this kernel
/// (it probes NO_SQARRAY once), asked of the builder itself so that the two
/// cannot disagree.
fn builder_drops_sq_array() -> bool {
    Builder::<Sqe64, Cqe16>::new(1).spec(false).is_ok_and(|s| s.flags.contains(SetupFlags::NO_SQARRAY))
}

/// The ring's charge to RLIMIT_MEMLOCK (a process without CAP_IPC_LOCK;
/// kernel and caller memory are charged alike on Linux 6.18).
fn charge(l: &Layout) -> MemlockCharge {
    memlock::ring(l, RingMemoryKind::Kernel)
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
    outln!("{}", line.trim_end());
}

fn print_table(spec: &RingSpec, l: &Layout, sq_array: &str) {
    let page = l.page_size();
    let mut requested = format!("requested {}", spec.entries);
    if let Some(cq) = spec.cq_entries {
        requested.push_str(&format!(" / {cq}"));
    }
    outln!(
        "ring: {} SQ entries, {} CQ entries ({requested}); flags [{}]; page size {page}",
        l.sq_entries(),
        l.cq_entries(),
        l.flags().names()
    );
    outln!("SQ array: {sq_array}");
    outln!();
    outln!("{:<8} {:<10} {:>10} {:>10} {:>7}", "region", "part", "offset", "bytes", "pages");
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
    let c = charge(l);
    outln!();
    outln!(
        "memlock: {} bytes ({} pages) of RLIMIT_MEMLOCK for a process without CAP_IPC_LOCK, in kernel or caller \
         memory alike",
        c.bytes(),
        c.pages
    );
}

/// The layout as JSON: counts, sizes, pages, offsets, the SQ array
/// decision and the RLIMIT_MEMLOCK charge.
pub fn to_json(spec: &RingSpec, l: &Layout, sq_array: &str) -> Value {
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
        "sq_array": sq_array,
        "memlock_bytes": charge(l).bytes(),
        "memlock_pages": charge(l).pages,
        "offsets": {
            "cqes": l.cqes_offset(),
            "sq_array": l.sq_array_offset(),
            "sqes_in_buffer": l.sqes_offset_in_buffer(),
        },
    })
}
