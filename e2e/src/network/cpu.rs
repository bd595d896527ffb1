//! CPU time of one browser: its Chromium process (found by its own profile directory on the command line) and every
//! process under it (zygotes, renderers, the GPU and network services), read from `/proc`.

use std::collections::BTreeMap;
use std::path::Path;

/// The process ids of the browser using `profile` as its `--user-data-dir`, and of all their descendants.
pub fn browser_processes(profile: &Path) -> Vec<u32> {
    let flag = format!("--user-data-dir={}", profile.display());
    let mut parents = BTreeMap::new();
    let mut roots = Vec::new();
    for pid in all_pids() {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        if let Some(parent) = parse_parent(&stat) {
            parents.insert(pid, parent);
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmdline.split(|byte| *byte == 0).any(|arg| arg == flag.as_bytes()) {
            roots.push(pid);
        }
    }
    descendants(&roots, &parents)
}

/// `roots` and every process whose chain of parents reaches one of them.
fn descendants(roots: &[u32], parents: &BTreeMap<u32, u32>) -> Vec<u32> {
    let mut found: Vec<u32> = roots.to_vec();
    let mut grew = true;
    while grew {
        grew = false;
        for (pid, parent) in parents {
            if found.contains(parent) && !found.contains(pid) {
                found.push(*pid);
                grew = true;
            }
        }
    }
    found.sort_unstable();
    found
}

fn all_pids() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries.filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok()).collect()
}

/// The parent pid (field 4) of a `/proc/PID/stat` text; the command name (field 2) may hold spaces and parentheses.
fn parse_parent(stat: &str) -> Option<u32> {
    stat[stat.rfind(')')? + 1..].split_whitespace().nth(1)?.parse().ok()
}

/// User plus system time (fields 14 and 15) of a `/proc/PID/stat` text, in clock ticks.
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
        assert_eq!(parse_parent(stat), Some(4200));
        assert_eq!(parse_ticks(stat), Some(1750));
        assert_eq!(parse_parent("garbage"), None);
    }

    #[test]
    fn finds_the_whole_tree_under_the_browser() {
        let parents = BTreeMap::from([(10, 1), (11, 10), (12, 11), (13, 1), (14, 12)]);
        assert_eq!(descendants(&[10], &parents), [10, 11, 12, 14]);
        assert_eq!(descendants(&[], &parents), Vec::<u32>::new());
    }

    #[test]
    fn processes_are_listed_and_gone_ones_count_nothing() {
        assert!(all_pids().contains(&std::process::id()));
        assert_eq!(cpu_seconds(&[u32::MAX]), 0.0);
    }
}
