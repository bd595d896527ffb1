//! What the kernel says about a process and the machine: resident memory, CPU time, open sockets, cores, memory.

use std::fs;
use std::io;

/// `VmRSS` from a `/proc/PID/status` text, in KiB.
pub fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(value)
}

/// User plus system CPU time, in clock ticks, from a `/proc/PID/stat` text. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted from its closing parenthesis: utime and stime are fields 14 and 15.
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11); // field 3 is the first after the name
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// `MemTotal` from a `/proc/meminfo` text, in KiB.
pub fn parse_mem_total_kib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    line["MemTotal:".len()..].split_whitespace().next()?.parse().ok()
}

/// The processor's model name and the number of logical processors, from a `/proc/cpuinfo` text.
pub fn parse_cpu(cpuinfo: &str) -> (String, usize) {
    let processors = cpuinfo.lines().filter(|line| line.starts_with("processor")).count();
    let model = cpuinfo
        .lines()
        .find(|line| line.starts_with("model name"))
        .and_then(|line| line.split_once(':'))
        .map(|(_, model)| model.trim().to_owned())
        .unwrap_or_else(|| "unknown processor".to_owned());
    (model, processors)
}

/// The resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss_kib(&status).ok_or_else(|| io::Error::other(format!("no VmRSS for process {pid}")))
}

/// The CPU time `pid` has used, in clock ticks (see [`ticks_per_second`]).
pub fn cpu_ticks(pid: u32) -> io::Result<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat).ok_or_else(|| io::Error::other(format!("cannot read CPU times of process {pid}")))
}

/// Clock ticks per second, the unit of [`cpu_ticks`].
pub fn ticks_per_second() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    #[expect(unsafe_code, reason = "std cannot read the clock tick")]
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(ticks).ok().filter(|t| *t > 0).unwrap_or(100)
}

/// How many sockets `pid` has open (listening ones included).
pub fn socket_count(pid: u32) -> io::Result<usize> {
    let mut count = 0;
    for entry in fs::read_dir(format!("/proc/{pid}/fd"))? {
        let Ok(target) = fs::read_link(entry?.path()) else { continue };
        if target.to_string_lossy().starts_with("socket:") {
            count += 1;
        }
    }
    Ok(count)
}

/// The machine, for the results: processor, logical processors, memory, kernel, load average.
#[derive(Clone, Debug)]
pub struct Machine {
    /// The processor's model name.
    pub cpu_model: String,
    /// Logical processors.
    pub cores: usize,
    /// Total memory, KiB.
    pub mem_total_kib: u64,
    /// The kernel release.
    pub kernel: String,
}

impl Machine {
    /// Reads `/proc`.
    pub fn read() -> Machine {
        let (cpu_model, cores) = parse_cpu(&fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
        Machine {
            cpu_model,
            cores,
            mem_total_kib: parse_mem_total_kib(&fs::read_to_string("/proc/meminfo").unwrap_or_default()).unwrap_or(0),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        }
    }
}

/// The 1-minute load average, from `/proc/loadavg`: how busy the machine was beside the bench.
pub fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_is_read_from_status() {
        let status = "Name:\tnode\nVmPeak:\t  912000 kB\nVmRSS:\t   48212 kB\nRssAnon:\t   30000 kB\n";
        assert_eq!(parse_rss_kib(status), Some(48_212));
        assert_eq!(parse_rss_kib("Name:\tkthreadd\n"), None);
        assert_eq!(parse_rss_kib("VmRSS:\t12 MB\n"), None);
    }

    #[test]
    fn cpu_times_are_counted_after_the_command_name() {
        // The name holds a space and a parenthesis; utime = 1500, stime = 250.
        let stat = "4242 (my (odd) relay) S 1 4242 4242 0 -1 4194560 9146 0 0 0 1500 250 0 0 20 0 5 0 8157 \
                    1161519104 12050 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(1_750));
        assert_eq!(parse_cpu_ticks("4242 (short) S 1"), None);
    }

    #[test]
    fn machine_facts_are_read_from_cpuinfo_and_meminfo() {
        let cpuinfo = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpu(cpuinfo), ("AMD EPYC 7B13".to_owned(), 2));
        assert_eq!(parse_mem_total_kib("MemTotal:       24568124 kB\nMemFree: 1 kB\n"), Some(24_568_124));
    }

    #[test]
    fn this_process_is_readable() {
        let pid = std::process::id();
        assert!(rss_kib(pid).unwrap() > 0);
        cpu_ticks(pid).unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(socket_count(pid).unwrap() >= 1);
        drop(listener);
    }
}
