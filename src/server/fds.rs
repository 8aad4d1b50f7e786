//! The open-file limit. Every connection is a file descriptor, and Linux
//! starts a process with a soft limit of 1024 while allowing 1000
//! connections by default would need more: the soft limit is raised to the
//! hard limit at start, and `--max-connections` is lowered (with a warning,
//! as Postfix does with its process limits) when even that is too few.
//! Running out of descriptors would fail accept(), LMDB and the log at
//! random; a clear lower limit fails nothing.

/// Descriptors kept for everything but client connections: the store
/// (data.mdb, lock.mdb), stdio, the listeners, epoll and signal pipes,
/// outbound delivery and fetch connections, DNS sockets.
pub const HEADROOM: u64 = 128;

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit
/// in force afterwards (`None` if it could not be read).
pub fn raise_nofile() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given and nothing else.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        // SAFETY: setrlimit reads the struct it is given.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit.rlim_cur = limit.rlim_max;
        } else {
            log::warn!(
                "cannot raise the open-file limit from {} to {}: {}",
                limit.rlim_cur,
                limit.rlim_max,
                std::io::Error::last_os_error()
            );
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is u32 on some targets
    Some(limit.rlim_cur as u64)
}

/// The connection limit that fits in `nofile` descriptors.
pub fn connections_within(max_connections: u32, nofile: u64) -> u32 {
    let room = nofile.saturating_sub(HEADROOM).max(1);
    u32::try_from(room).map_or(max_connections, |room| max_connections.min(room))
}

/// Raises the limit and returns the connection limit to use, with one
/// clear line when `max_connections` had to be lowered.
pub fn effective_max_connections(max_connections: u32) -> u32 {
    let Some(nofile) = raise_nofile() else {
        log::warn!("cannot read the open-file limit; keeping --max-connections {max_connections}");
        return max_connections;
    };
    let effective = connections_within(max_connections, nofile);
    if effective < max_connections {
        log::warn!(
            "--max-connections {max_connections} needs more open files than this process may have \
             ({nofile}, after raising the soft limit to the hard one); serving at most {effective} \
             connections. Raise the hard limit (ulimit -Hn, LimitNOFILE=) to allow more"
        );
    } else {
        log::info!("open-file limit {nofile}: room for --max-connections {max_connections}");
    }
    effective
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_to_the_descriptors() {
        assert_eq!(connections_within(1000, 1024), 1024 - HEADROOM as u32);
        assert_eq!(connections_within(1000, 65536), 1000);
        assert_eq!(connections_within(1000, 10), 1);
        assert_eq!(connections_within(1000, u64::MAX), 1000);
    }

    #[test]
    fn soft_limit_is_raised_to_the_hard_one() {
        let soft = raise_nofile().unwrap();
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: as above.
        assert_eq!(
            unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
            0
        );
        assert_eq!(limit.rlim_cur, limit.rlim_max);
        #[allow(clippy::unnecessary_cast)]
        let cur = limit.rlim_cur as u64;
        assert_eq!(soft, cur);
    }
}
