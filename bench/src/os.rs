//! Process limits and CPU placement, for the bench and the relays it starts.

#![expect(unsafe_code, reason = "the limit, affinity, scheduling and timer-slack calls have no wrapper in std")]

use std::io;

/// Open files the bench and each relay may hold: 10,000 connections on each side, with room to spare.
pub const OPEN_FILES: u64 = 65_536;

/// Raises the open-file limit to `wanted` (soft and hard; raising the hard limit needs privilege), or the soft
/// limit as far as the hard one allows. Returns the soft limit in force. Async-signal-safe, for `pre_exec`.
pub fn raise_open_files(wanted: u64) -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(io::Error::last_os_error());
        }
        if limit.rlim_cur >= wanted {
            return Ok(limit.rlim_cur);
        }
        let both = libc::rlimit { rlim_cur: wanted, rlim_max: wanted.max(limit.rlim_max) };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &both) == 0 {
            return Ok(wanted);
        }
        let soft = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(limit.rlim_max)
    }
}

/// Restricts the calling process (and the threads it starts later) to logical processor `cpu`.
/// Async-signal-safe, for `pre_exec`.
pub fn pin_to_cpu(cpu: usize) -> io::Result<()> {
    // SAFETY: the set is a plain bitmask we own; sched_setaffinity(0, …) applies to the calling thread, which is
    // the only one when this runs (before the runtime starts, or in a forked child).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// How the bench and the relays are scheduled, ahead of other work on the machine (builds), the same for all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Real-time, first in first out, at the lowest real-time priority: other work runs only when the bench's
    /// processes wait (the kernel still keeps 5% of each second for it).
    Fifo,
    /// This nice value.
    Nice(i32),
    /// Whatever it was.
    Unchanged,
}

/// The nice value used when real-time scheduling is not permitted.
pub const NICE: i32 = -10;

impl Priority {
    /// Applies the best priority permitted to the calling process (and the threads it starts later): real-time,
    /// else nice [`NICE`]. Returns what it applied.
    pub fn raise() -> Priority {
        for priority in [Priority::Fifo, Priority::Nice(NICE)] {
            if priority.apply().is_ok() {
                return priority;
            }
        }
        Priority::Unchanged
    }

    /// Applies this priority to the calling process. Async-signal-safe, for `pre_exec`.
    pub fn apply(self) -> io::Result<()> {
        // SAFETY: scheduling calls on our own process, with a parameter struct we own.
        let result = unsafe {
            match self {
                Priority::Fifo => {
                    let param = libc::sched_param { sched_priority: 1 };
                    libc::sched_setscheduler(0, libc::SCHED_FIFO, &param)
                }
                Priority::Nice(nice) => libc::setpriority(libc::PRIO_PROCESS, 0, nice),
                Priority::Unchanged => 0,
            }
        };
        if result != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Makes the calling thread's sleeps end as close to their deadline as the kernel can (no timer slack; the default
/// lets a sleep overrun by 50 µs for normally scheduled threads). Best effort.
pub fn precise_sleeps() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// Logical processors this process may run on.
pub fn available_cpus() -> usize {
    std::thread::available_parallelism().map(usize::from).unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_file_limit_only_goes_up() {
        let before = raise_open_files(16).unwrap();
        assert!(before >= 16);
        assert_eq!(raise_open_files(16).unwrap(), before);
    }
}
