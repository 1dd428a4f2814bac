//! `ringwise probe` prints the opcode catalog as a table whose columns fit
//! their longest cell: every row's liburing column starts where the header
//! says, with the real catalog's longest builder lists.

use ringwise::op::CATALOG;
use std::process::Command;

#[test]
fn opcode_columns_fit_the_catalog() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringwise")).arg("probe").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().find(|l| l.contains("ringwise::op") && l.contains("liburing")).expect("table header");
    let builders_col = header.find("ringwise::op").unwrap();
    let liburing_col = header.find("liburing").unwrap();
    let mut rows = 0;
    for info in CATALOG {
        let row = text
            .lines()
            .find(|l| {
                l.split_whitespace().nth(1) == Some(info.name) && l.trim_start().starts_with(&info.opcode.to_string())
            })
            .unwrap_or_else(|| panic!("no row for {}", info.name));
        // Rows are trimmed at the end: pad to the liburing column.
        let row = format!("{row:<liburing_col$}");
        let builders = info.builders.join(", ");
        assert_eq!(row.get(builders_col..builders_col + builders.len()), Some(builders.as_str()), "{row}");
        assert!(row[builders_col + builders.len()..liburing_col].trim().is_empty(), "builders overflow: {row}");
        assert_eq!(row.get(liburing_col..).unwrap_or(""), info.liburing.join(", "), "{row}");
        rows += 1;
    }
    assert_eq!(rows, CATALOG.len());
}
