//! fio's `t/io_uring`: getting its sources, building it, and reading its
//! output. Nothing of fio is kept in this repository: the sources are
//! fetched (or copied from `FIO_SRC`) into the target directory at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the fio sources came from and where the binary is.
pub struct Tio {
    pub binary: PathBuf,
    pub origin: String,
}

/// Run `cmd`; `Err` with its stderr tail (or the spawn error) on failure.
fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: cannot run {:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = err.lines().rev().take(3).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("{what} failed ({}): {}", out.status, tail.join(" / ")))
}

/// Put fio sources in `dir`: from `FIO_SRC` (a source tree, or a bare or
/// ordinary git repository whose `HEAD` is exported), else by a shallow
/// clone from GitHub. Returns where they came from.
fn sources(dir: &Path) -> Result<String, String> {
    if dir.join("t/io_uring.c").exists() {
        let origin = std::fs::read_to_string(dir.join(".read_vs_tio-origin")).unwrap_or_default();
        return Ok(format!("{} (kept in {})", origin.trim(), dir.display()));
    }
    let _ = std::fs::remove_dir_all(dir);
    let origin = match std::env::var_os("FIO_SRC") {
        Some(src) => {
            let src = PathBuf::from(src);
            if src.join("t/io_uring.c").exists() {
                run(Command::new("cp").arg("-a").arg(&src).arg(dir), "copying FIO_SRC")?;
                format!("FIO_SRC tree {}", src.display())
            } else if src.join("HEAD").exists() || src.join(".git").exists() {
                std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
                let git_dir = if src.join(".git").exists() { src.join(".git") } else { src.clone() };
                let export =
                    format!("git --git-dir='{}' archive HEAD | tar -x -C '{}'", git_dir.display(), dir.display());
                run(Command::new("sh").arg("-c").arg(export), "exporting FIO_SRC's HEAD")?;
                let commit = Command::new("git")
                    .arg("--git-dir")
                    .arg(&git_dir)
                    .args(["rev-parse", "--short", "HEAD"])
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                    .unwrap_or_default();
                format!("FIO_SRC repository {} at {commit}", src.display())
            } else {
                return Err(format!("FIO_SRC={} is neither a fio source tree nor a git repository", src.display()));
            }
        }
        None => {
            run(
                Command::new("git").args(["clone", "-q", "--depth", "1", "https://github.com/axboe/fio"]).arg(dir),
                "git clone --depth 1 https://github.com/axboe/fio (set FIO_SRC to a local fio tree or repository)",
            )?;
            "https://github.com/axboe/fio (shallow clone)".to_string()
        }
    };
    let _ = std::fs::write(dir.join(".read_vs_tio-origin"), &origin);
    Ok(origin)
}

/// Fetch and build `t/io_uring` under `target`; `Err` says why it cannot.
pub fn build(target: &Path) -> Result<Tio, String> {
    let dir = target.join("fio-src");
    let origin = sources(&dir)?;
    let binary = dir.join("t/io_uring");
    if !binary.exists() {
        if !dir.join("config-host.h").exists() {
            run(Command::new("./configure").arg("--disable-native").current_dir(&dir), "fio's ./configure")?;
        }
        run(Command::new("make").args(["-j2", "t/io_uring"]).current_dir(&dir), "make t/io_uring")?;
    }
    Ok(Tio { binary, origin })
}

/// Settings of one run, shared by both clients.
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    pub depth: u32,
    pub batch: u32,
    pub size: u32,
    pub random: bool,
    pub tuned: bool,
    pub direct: bool,
}

/// t/io_uring's arguments for `s`, running `secs` + 1 seconds: `secs`
/// per-second lines, the first of which (it includes set-up) is dropped.
pub fn args(s: &Setting, secs: u32, file: &Path) -> Vec<String> {
    let b = |x: bool| if x { "1" } else { "0" };
    let mut v: Vec<String> = vec![
        format!("-d{}", s.depth),
        format!("-s{}", s.batch),
        format!("-c{}", s.batch),
        format!("-b{}", s.size),
        "-p0".into(),
        format!("-B{}", b(s.tuned)),
        format!("-F{}", b(s.tuned)),
        format!("-X{}", b(s.tuned)),
        format!("-O{}", b(s.direct)),
        format!("-R{}", b(s.random)),
        "-t0".into(),
        "-n1".into(),
        format!("-r{}", secs + 1),
    ];
    v.push(file.display().to_string());
    v
}

/// One per-second line's IOPS: `IOPS=1.44M, BW=5625MiB/s, IOS/call=32/32`.
/// The bandwidth, when it is a whole number of MiB/s (or GiB/s with two
/// decimals), has a finer resolution than the IOPS figure (two decimals of
/// M or K), so the better of the two is used.
pub fn line_iops(line: &str, size: u32) -> Option<f64> {
    let rest = line.strip_prefix("IOPS=")?;
    let (iops, rest) = rest.split_once(',')?;
    let (num, scale, step) = match iops.chars().last()? {
        'M' => (&iops[..iops.len() - 1], 1e6, 1e4),
        'K' => (&iops[..iops.len() - 1], 1e3, 10.0),
        _ => (iops, 1.0, 1.0),
    };
    let from_iops = num.parse::<f64>().ok()? * scale;
    let per_mib = 1_048_576.0 / size as f64;
    let bw = rest.trim().strip_prefix("BW=").and_then(|b| b.split_once(',')).map(|(b, _)| b);
    let from_bw = bw.and_then(|b| {
        if let Some(m) = b.strip_suffix("MiB/s") {
            // Whole MiB/s, truncated: the midpoint of its step.
            m.parse::<f64>().ok().map(|m| ((m + 0.5) * per_mib, per_mib))
        } else if let Some(g) = b.strip_suffix("GiB/s") {
            // t/io_uring prints MiB/s / 1000 with two decimals, rounded.
            g.parse::<f64>().ok().map(|g| (g * 1000.0 * per_mib, 10.0 * per_mib))
        } else {
            None
        }
    });
    match from_bw {
        Some((v, bw_step)) if size <= 1_048_576 && bw_step < step && (v - from_iops).abs() <= step + bw_step => Some(v),
        _ => Some(from_iops),
    }
}

/// CPU time so far of process `pid`, all its live threads (`schedstat`'s
/// first field, nanoseconds on the CPU).
pub fn process_cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0 };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

/// One t/io_uring run: ops/s over wall time (the mean of the per-second
/// lines after the first) and ops per CPU second (the ops of those lines
/// over the process's CPU time between the first line and the last, read
/// from `/proc` as each line arrives).
pub fn measure(mut cmd: Command, size: u32) -> Result<(f64, f64), String> {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run t/io_uring: {e}"))?;
    let pid = child.id();
    let mut lines = Vec::new();
    let mut text = String::new();
    if let Some(out) = child.stdout.take() {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if let Some(iops) = line_iops(line.trim(), size) {
                lines.push((iops, process_cpu_ns(pid)));
            }
            text.push_str(&line);
            text.push('\n');
        }
    }
    let status = child.wait().map_err(|e| format!("t/io_uring: {e}"))?;
    if !status.success() || lines.len() < 2 {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        let tail: Vec<&str> = text.lines().chain(err.lines()).rev().take(4).collect();
        return Err(format!("t/io_uring ({status}) gave {} IOPS lines, needs 2: {}", lines.len(), tail.join(" / ")));
    }
    let steady = &lines[1..];
    let wall = steady.iter().map(|l| l.0).sum::<f64>() / steady.len() as f64;
    let cpu_ns = lines[lines.len() - 1].1.saturating_sub(lines[0].1).max(1);
    let per_cpu = steady.iter().map(|l| l.0).sum::<f64>() / (cpu_ns as f64 / 1e9);
    Ok((wall, per_cpu))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines_parse() {
        let v = super::line_iops("IOPS=1.44M, BW=5625MiB/s, IOS/call=32/32", 4096).unwrap();
        assert!((v - 1_440_128.0).abs() < 1.0, "{v}");
        let v = super::line_iops("IOPS=1.79M, BW=6.99GiB/s, IOS/call=32/32", 4096).unwrap();
        assert!((v - 1_789_440.0).abs() < 1.0, "{v}");
        // Here the IOPS figure (steps of 10) is finer than the bandwidth.
        let v = super::line_iops("IOPS=135.21K, BW=528MiB/s, IOS/call=32/32", 4096).unwrap();
        assert!((v - 135_210.0).abs() < 1.0, "{v}");
    }
}
