//! A `FixedBufPool` larger than one table entry (the kernel registers at
//! most 1 GiB per entry): its buffers spread over several entries, and a
//! fixed read into a buffer of a later entry lands in that buffer. Kept out
//! of the valgrind run (it maps and pins over 1 GiB).

mod common;

use common::skip;
use ringwise::owned::{ops, Driver, FixedBufPool, SharedFd};
use ringwise::Errno;
use std::collections::BTreeMap;

#[test]
fn a_pool_past_a_gibibyte_spans_table_entries_and_reads_land_in_their_buffers() {
    const SIZE: usize = 384 << 20;
    // Three 384 MiB buffers: two fit in the first 1 GiB entry, the third
    // starts the second entry.
    let path = std::env::temp_dir().join(format!("ringwise-fixed-entries-{}", std::process::id()));
    let data: Vec<u8> = (0..8192u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let file = SharedFd::from(std::fs::File::open(&path).unwrap());
    let driver = Driver::new(8).unwrap();
    let pool = match FixedBufPool::register(&driver, 3, SIZE) {
        Ok(pool) => pool,
        Err(e) if e.errno() == Errno::NOMEM => {
            std::fs::remove_file(&path).unwrap();
            return skip(format!("cannot pin 1.1 GiB of buffers here: {e}"));
        }
        Err(e) => panic!("register: {e}"),
    };
    let bufs: BTreeMap<u16, _> = (0..3).map(|_| pool.checkout().unwrap()).map(|b| (b.index(), b)).collect();
    let entries: Vec<u16> = bufs.values().map(|b| b.buf_index()).collect();
    assert_eq!(entries, [0, 0, 1], "buffers 0 and 1 share entry 0, buffer 2 is in entry 1");
    for (index, buf) in bufs {
        let offset = u64::from(index) * 1000;
        let (n, buf) = driver.submit(ops::ReadFixed::at(&file, buf, offset)).unwrap().wait().unwrap();
        let want = &data[offset as usize..];
        assert_eq!(n, Ok(want.len()), "read into buffer {index}");
        assert_eq!(&buf[..], want, "buffer {index} holds what was read at {offset}");
    }
    std::fs::remove_file(&path).unwrap();
}
