//! The runner's results as a markdown table and an SVG bar chart (written
//! by hand: no dependency).

use std::fmt::Write as _;

/// One measured cell: a setting, both clients' per-round ops/s.
#[derive(Clone)]
pub struct Cell {
    /// Short label, e.g. `buffered plain seq QD32`.
    pub label: String,
    pub io: &'static str,
    pub mode: &'static str,
    pub pattern: &'static str,
    pub depth: u32,
    /// Per-round ops/s over wall time.
    pub tio: Vec<f64>,
    pub ringwise: Vec<f64>,
    /// Per-round ops per CPU second.
    pub tio_cpu: Vec<f64>,
    pub ringwise_cpu: Vec<f64>,
}

/// The median of `xs` (0 for none).
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn ratios(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(r, t)| r / t).collect()
}

impl Cell {
    /// Per-round ratios ringwise / t/io_uring, per CPU second.
    pub fn ratios(&self) -> Vec<f64> {
        ratios(&self.ringwise_cpu, &self.tio_cpu)
    }
    /// The median per-round ratio per CPU second: a burst of load from
    /// elsewhere that spans a round affects both clients alike and cancels.
    pub fn ratio(&self) -> f64 {
        median(&self.ratios())
    }
    /// The median per-round ratio over wall time.
    pub fn wall_ratio(&self) -> f64 {
        median(&ratios(&self.ringwise, &self.tio))
    }
}

fn m(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.3} M", x / 1e6)
    } else {
        format!("{:.1} K", x / 1e3)
    }
}

/// The markdown table (with a header line saying what was run).
pub fn markdown(cells: &[Cell], preamble: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{preamble}\n");
    let _ = writeln!(
        s,
        "| I/O | mode | pattern | QD | t/io_uring per CPU s | ringwise per CPU s | ringwise / t/io_uring per CPU s | min–max of rounds | t/io_uring wall | ringwise wall | ratio, wall |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for c in cells {
        let r = c.ratios();
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | **{:.3}** | {:.3}–{:.3} | {} | {} | {:.3} |",
            c.io,
            c.mode,
            c.pattern,
            c.depth,
            m(median(&c.tio_cpu)),
            m(median(&c.ringwise_cpu)),
            c.ratio(),
            lo,
            hi,
            m(median(&c.tio)),
            m(median(&c.ringwise)),
            c.wall_ratio()
        );
    }
    s
}

fn esc(t: &str) -> String {
    t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// A horizontal grouped bar chart: per cell, t/io_uring's and ringwise's
/// median ops per CPU second, with the ratio at the end of the ringwise bar.
pub fn svg(cells: &[Cell], title: &str) -> String {
    const LABEL_W: f64 = 230.0;
    const BAR_W: f64 = 520.0;
    const BAR_H: f64 = 14.0;
    const GROUP_H: f64 = 2.0 * BAR_H + 12.0;
    const TOP: f64 = 56.0;
    let width = LABEL_W + BAR_W + 130.0;
    let height = TOP + GROUP_H * cells.len() as f64 + 40.0;
    let max = cells.iter().flat_map(|c| [median(&c.tio_cpu), median(&c.ringwise_cpu)]).fold(1.0, f64::max);
    let colours = [("t/io_uring", "#8c8c8c"), ("ringwise", "#2a6fbb")];
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(s, r#"<text x="10" y="20" font-size="14" font-weight="bold">{}</text>"#, esc(title));
    for (k, (name, colour)) in colours.iter().enumerate() {
        let x = LABEL_W + k as f64 * 120.0;
        let _ = writeln!(s, r#"<rect x="{x}" y="32" width="12" height="12" fill="{colour}"/>"#);
        let _ = writeln!(s, r#"<text x="{}" y="43">{name}</text>"#, x + 16.0);
    }
    for (i, c) in cells.iter().enumerate() {
        let y = TOP + i as f64 * GROUP_H;
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            LABEL_W - 8.0,
            y + BAR_H + 4.0,
            esc(&c.label)
        );
        for (k, (v, (_, colour))) in [median(&c.tio_cpu), median(&c.ringwise_cpu)].into_iter().zip(colours).enumerate()
        {
            if k == 0 && c.tio_cpu.is_empty() {
                continue; // measured without t/io_uring
            }
            let by = y + k as f64 * BAR_H;
            let w = (v / max * BAR_W).max(1.0);
            let _ = writeln!(
                s,
                r#"<rect x="{LABEL_W}" y="{by}" width="{w:.1}" height="{}" fill="{colour}"/>"#,
                BAR_H - 2.0
            );
            let mut text = m(v);
            if k == 1 && !c.tio_cpu.is_empty() {
                let _ = write!(text, "  ({:.3}×)", c.ratio());
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.1}" y="{}" font-size="11">{}</text>"#,
                LABEL_W + w + 4.0,
                by + BAR_H - 4.0,
                esc(&text)
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="10" y="{}" font-size="11" fill="gray">ops per CPU second, median of interleaved rounds; (×) = median per-round ratio ringwise / t/io_uring</text>"#,
        height - 14.0
    );
    s.push_str("</svg>\n");
    s
}
