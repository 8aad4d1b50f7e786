//! A file made for one answer and sent as its body (the admin pages'
//! backup download: a whole copy of the store). The answer owns it: when
//! the answer is dropped, sent or not (a client that stops reading, a
//! failed write, a shutdown), the file is deleted on the blocking pool,
//! never with a blocking call on the executor, and only then is the
//! maker's guard (its one-at-a-time flag) released.

use std::path::{Path, PathBuf};

/// Held until the file is gone.
pub type Guard = Box<dyn Send>;

pub struct TempFile {
    path: PathBuf,
    len: u64,
    guard: Option<Guard>,
}

impl TempFile {
    /// Takes ownership of `path` (which may not exist yet: a copy about to
    /// be made there is deleted even when making it fails half-way).
    pub fn new(path: PathBuf, guard: Guard) -> TempFile {
        TempFile {
            path,
            len: 0,
            guard: Some(guard),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The bytes sent: the file's length once made.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn set_len(&mut self, len: u64) {
        self.len = len;
    }
}

impl std::fmt::Debug for TempFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TempFile({}, {} bytes)", self.path.display(), self.len)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let path = std::mem::take(&mut self.path);
        let guard = self.guard.take();
        smol::unblock(move || {
            if let Err(e) = std::fs::remove_file(&path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                log::warn!("cannot delete {}: {e}", path.display());
            }
            drop(guard);
        })
        .detach();
    }
}
