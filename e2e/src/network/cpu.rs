//! CPU time of a browser's processes (the lab lists them: `netlab::Lab::browser_pids`), read from `/proc`.

/// User plus system time (fields 14 and 15) of a `/proc/PID/stat` text, in clock ticks. The command name (field 2)
/// may hold spaces and parentheses, so fields are counted from its closing parenthesis.
fn parse_ticks(stat: &str) -> Option<u64> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace().skip(11);
    Some(fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?)
}

/// CPU seconds used so far by the processes `pids` (those that have exited count nothing).
pub fn cpu_seconds(pids: &[u32]) -> f64 {
    let ticks: u64 =
        pids.iter().filter_map(|pid| parse_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)).sum();
    ticks as f64 / rustix::param::clock_ticks_per_second() as f64
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
    fn processes_that_are_gone_count_nothing() {
        assert_eq!(cpu_seconds(&[u32::MAX]), 0.0);
    }
}
