//! The process's file-descriptor budget: raise the soft `RLIMIT_NOFILE` to the hard
//! limit at start (systemd and most shells give 1024 soft, far more hard) and split
//! what there is between the executors' file pools and the sockets.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// Descriptors kept for the process itself: stdio, each executor's rings and
/// eventfds, the listeners, tracker and control sockets.
const RESERVED_FDS: u64 = 64;
/// Descriptors each executor uses beyond its files and peers (rings, timers).
const RESERVED_FDS_PER_EXECUTOR: u64 = 16;
/// Fewest open files an executor's pool keeps, however tight the limit.
const MIN_FILES_PER_EXECUTOR: usize = 16;
/// Most open files an executor's pool keeps: beyond this, reopening a file now and
/// then costs less than holding descriptors (libtorrent's pool defaults to 40).
const MAX_FILES_PER_EXECUTOR: usize = 512;
/// What "unlimited" counts as.
const UNLIMITED: u64 = 1 << 20;

/// Raises the soft limit on open descriptors to the hard limit and returns the
/// soft limit in force afterwards (the old one if raising was refused).
pub fn raise_nofile_limit() -> u64 {
    let limit = getrlimit(Resource::Nofile);
    let current = limit.current.unwrap_or(UNLIMITED);
    let maximum = limit.maximum.unwrap_or(UNLIMITED);
    if maximum <= current {
        return current;
    }
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            tracing::debug!(from = current, to = maximum, "raised the open file limit");
            maximum
        }
        Err(e) => {
            tracing::warn!(soft = current, hard = maximum, "cannot raise the open file limit: {e}");
            current
        }
    }
}

/// How many files each of `executors` may keep open under a limit of `nofile`
/// descriptors: after the reserve, half for files and half for peer sockets.
pub fn files_per_executor(nofile: u64, executors: usize) -> usize {
    let executors = executors.max(1) as u64;
    let spare = nofile.saturating_sub(RESERVED_FDS + RESERVED_FDS_PER_EXECUTOR * executors);
    let per_executor = usize::try_from(spare / 2 / executors).unwrap_or(usize::MAX);
    per_executor.clamp(MIN_FILES_PER_EXECUTOR, MAX_FILES_PER_EXECUTOR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_leaves_room_for_sockets_and_stays_in_bounds() {
        // 1024 on 2 executors: (1024 - 96) / 2 / 2.
        assert_eq!(files_per_executor(1024, 2), 232);
        assert!(files_per_executor(1024, 2) * 2 < 1024 / 2 + 64);
        assert_eq!(files_per_executor(256, 2), 40);
        assert_eq!(files_per_executor(64, 8), MIN_FILES_PER_EXECUTOR);
        assert_eq!(files_per_executor(1 << 20, 2), MAX_FILES_PER_EXECUTOR);
        assert_eq!(files_per_executor(1024, 0), files_per_executor(1024, 1));
    }

    #[test]
    fn raising_reaches_the_hard_limit() {
        let hard = getrlimit(Resource::Nofile).maximum.unwrap_or(UNLIMITED);
        assert_eq!(raise_nofile_limit(), hard);
        assert_eq!(getrlimit(Resource::Nofile).current.unwrap_or(UNLIMITED), hard);
    }
}
