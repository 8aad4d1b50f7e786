//! The store writer's view of the store's health: a full disk (or map) is
//! told once when it starts and once when it ends, not once per message; an
//! I/O error on a nearly full file system is a full disk (some answer EIO,
//! not ENOSPC); a broken LMDB environment ends the process so that the
//! supervisor restarts it (DESIGN.md "Budgets").

use std::path::Path;

use super::StoreError;
use super::writer::Outcome;

/// What the writer has told the log about the store's state, so that a
/// full disk is one line when it starts and one when it ends, and a broken
/// environment ends the process.
#[derive(Default)]
pub(super) struct Health {
    pub(super) full: bool,
}

impl Health {
    pub(super) fn after(
        &mut self,
        committed: &Result<(), StoreError>,
        results: &[Result<Outcome, StoreError>],
    ) {
        let errors = committed
            .as_ref()
            .err()
            .into_iter()
            .chain(results.iter().filter_map(|r| r.as_ref().err()));
        let mut full = false;
        let mut timeouts = 0;
        for e in errors {
            match e {
                StoreError::Fatal(_) => fatal(e),
                StoreError::Full => full = true,
                StoreError::Timeout => timeouts += 1,
                _ => {}
            }
        }
        if timeouts > 0 {
            log::warn!(
                "store: {timeouts} writes waited more than their deadline for the write lock \
                 (another process holding it?) and were refused with a temporary error"
            );
        }
        if full && !self.full {
            log::error!(
                "store: the store is full (the disk, or --map-size): mail is refused with temporary \
                 errors (SMTP 452 4.3.1) until space is freed"
            );
        } else if !full && self.full && committed.is_ok() {
            log::warn!("store: writes succeed again; the store has room");
        }
        self.full = full || (self.full && committed.is_err());
    }
}

/// A broken LMDB environment cannot be repaired from inside: every later
/// write would fail too. Say so, and exit for the supervisor to restart.
fn fatal(e: &StoreError) -> ! {
    log::error!("store: {e}; exiting so that smolmail is restarted on a freshly opened store");
    crate::logsink::flush();
    std::process::exit(1);
}

/// Free space below which an I/O error from a write is taken for a full
/// disk: some file systems answer EIO, not ENOSPC, when they run out.
pub(super) const NEARLY_FULL: u64 = 4 << 20;

/// `e`, or [`StoreError::Full`] when it is an I/O error and the file system
/// holding the store has (almost) no space left.
pub(super) fn disk_full_or(e: StoreError, dir: &Path) -> StoreError {
    match e {
        StoreError::Io(_) if free_bytes(dir).is_some_and(|free| free < NEARLY_FULL) => {
            StoreError::Full
        }
        other => other,
    }
}

/// Bytes an unprivileged writer may still use on the file system of `dir`.
pub(super) fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs only writes the struct it is given; zeroed is a
    // valid value for this plain C struct.
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a NUL-terminated path and a valid out-pointer.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // the field types differ by target
    Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
}
