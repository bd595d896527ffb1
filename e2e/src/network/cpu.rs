//! CPU time of a browser's processes (the lab lists them: `netlab::Lab::browser_pids`), read from `/proc`.

use std::collections::HashMap;

/// User plus system time (fields 14 and 15) of a `/proc/PID/stat` text, in clock ticks. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted from its closing parenthesis.
fn parse_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    Some(fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?)
}

/// The CPU ticks used so far by each of the processes `pids` that still runs.
fn read_ticks(pids: &[u32]) -> Vec<(u32, u64)> {
    pids.iter()
        .filter_map(|pid| Some((*pid, parse_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)?)))
        .collect()
}

/// The CPU time one browser's processes use over a stretch of time, process by process: a process that starts
/// during it counts from nothing, one that exits keeps what it had used when last read (so read it now and then, and
/// at the end with the processes listed again).
#[derive(Clone, Debug, Default)]
pub struct CpuMeter {
    seen: HashMap<u32, Seen>,
}

/// What the meter knows of one process id, in ticks.
#[derive(Clone, Copy, Debug, Default)]
struct Seen {
    /// Its time when the meter first saw it (0 for a process started after the meter did).
    first: u64,
    /// Its time when last read.
    last: u64,
    /// What earlier processes with the same id used.
    earlier: u64,
}

impl CpuMeter {
    /// Starts measuring the processes `pids` (those that have exited are left out).
    pub fn start(pids: &[u32]) -> CpuMeter {
        let mut meter = CpuMeter::default();
        meter.start_with(&read_ticks(pids));
        meter
    }

    /// Reads the processes `pids` (list them again: new ones count from their start).
    pub fn read(&mut self, pids: &[u32]) {
        self.record(&read_ticks(pids));
    }

    /// The CPU seconds used since the start; `None` if the meter never saw a process.
    pub fn used_seconds(&self) -> Option<f64> {
        (!self.seen.is_empty()).then(|| self.used_ticks() as f64 / rustix::param::clock_ticks_per_second() as f64)
    }

    fn start_with(&mut self, readings: &[(u32, u64)]) {
        self.seen.extend(readings.iter().map(|(pid, ticks)| (*pid, Seen { first: *ticks, last: *ticks, earlier: 0 })));
    }

    fn record(&mut self, readings: &[(u32, u64)]) {
        for (pid, ticks) in readings {
            let seen = self.seen.entry(*pid).or_default();
            if *ticks < seen.last {
                // The id was taken again by a new process: what the old one used stays counted, the new one's adds.
                seen.earlier += seen.last - seen.first;
                seen.first = 0;
            }
            seen.last = *ticks;
        }
    }

    fn used_ticks(&self) -> u64 {
        self.seen.values().map(|seen| seen.earlier + seen.last.saturating_sub(seen.first)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stat_lines_with_awkward_names() {
        let stat = "4242 (chrome (renderer) x) S 4200 4242 1 0 -1 4194560 100 0 0 0 1500 250 0 0 20 0 12 0";
        assert_eq!(parse_ticks(stat), Some(1750));
        assert_eq!(parse_ticks("garbage"), None);
    }

    #[test]
    fn processes_that_are_gone_are_not_read() {
        assert_eq!(read_ticks(&[u32::MAX]), []);
        assert_eq!(CpuMeter::start(&[u32::MAX]).used_seconds(), None);
    }

    #[test]
    fn counts_each_process_from_when_it_was_first_seen() {
        let mut meter = CpuMeter::default();
        meter.start_with(&[(10, 500), (11, 100)]);
        assert_eq!(meter.used_ticks(), 0);
        // 10 used 50 ticks; 12 started meanwhile and used 30; 11 is gone.
        meter.record(&[(10, 550), (12, 30)]);
        assert_eq!(meter.used_ticks(), 80);
        // 12 exits: what it used stays; 10 goes on; 13 is new.
        meter.record(&[(10, 600), (13, 5)]);
        assert_eq!(meter.used_ticks(), 100 + 30 + 5);
    }

    #[test]
    fn an_exited_process_never_makes_the_figure_negative() {
        let mut meter = CpuMeter::default();
        meter.start_with(&[(10, 500), (11, 900)]);
        meter.record(&[(10, 520)]);
        assert_eq!(meter.used_ticks(), 20);
        // Id 11 reused by a process that has used 40 ticks: the old one's nothing since the start, plus those.
        meter.record(&[(11, 40)]);
        assert_eq!(meter.used_ticks(), 20 + 40);
    }
}
