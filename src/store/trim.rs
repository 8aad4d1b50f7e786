//! Keeps the map pages the process has touched from piling up in its RSS.
//!
//! Every commit copies the B-tree pages it changes out of the LMDB map, so
//! over thousands of deliveries the writer touches most of the file once,
//! and each touched page stays mapped (resident) in this process although
//! it is only page cache: the server's RSS would grow with the store, not
//! with its work. Every [`TRIM_EVERY`] commits the writer drops its
//! mappings of the whole map with `madvise(MADV_DONTNEED)`. For a shared,
//! read-only file mapping that loses nothing: the next access maps the page
//! again from the page cache, with the same (current) contents, so readers
//! on other threads are unaffected.

use std::path::Path;

/// Commits between trims.
pub const TRIM_EVERY: u64 = 64;

/// The address range of the `data.mdb` mapping.
pub struct MapRange {
    start: usize,
    len: usize,
}

unsafe extern "C" {
    fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
}

/// Linux's MADV_DONTNEED (the same on every architecture).
const MADV_DONTNEED: i32 = 4;

impl MapRange {
    /// Finds the mapping of `dir/data.mdb` in /proc/self/maps.
    pub fn find(dir: &Path) -> Option<MapRange> {
        let file = std::fs::canonicalize(dir.join("data.mdb")).ok()?;
        let file = file.to_str()?;
        let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
        let line = maps.lines().find(|l| l.ends_with(file))?;
        let (range, _) = line.split_once(' ')?;
        let (start, end) = range.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        Some(MapRange {
            start,
            len: end.checked_sub(start)?,
        })
    }

    /// Drops this process's page mappings of the map (see module docs).
    pub fn trim(&self) {
        // SAFETY: the range is LMDB's MAP_SHARED, read-only mapping of
        // data.mdb, which stays mapped at this address for the life of the
        // environment (the map size is never changed while running).
        // MADV_DONTNEED on a shared file mapping only unmaps pages; later
        // reads fault them back from the page cache unchanged.
        let rc = unsafe { madvise(self.start as *mut std::ffi::c_void, self.len, MADV_DONTNEED) };
        if rc != 0 {
            log::debug!(
                "store: madvise on the map failed: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
