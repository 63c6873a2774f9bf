//! berthd's own resource use, read from /proc as Prometheus' process
//! collectors do (Linux only; elsewhere nothing is reported).

/// Linux reports CPU times in clock ticks of 1/100 s (USER_HZ, fixed at
/// 100 on every architecture Berth runs on).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ProcessFigures {
    pub resident_memory_bytes: u64,
    pub cpu_seconds_total: f64,
    pub open_fds: u64,
}

impl ProcessFigures {
    pub fn read() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as u64;
        Some(Self {
            resident_memory_bytes: resident_bytes(&status)?,
            cpu_seconds_total: cpu_seconds(&stat)?,
            open_fds,
        })
    }
}

/// `VmRSS:   12345 kB` in /proc/self/status.
fn resident_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

/// utime + stime: fields 14 and 15 of /proc/self/stat, counted after the
/// command name's closing parenthesis (the name may hold spaces).
fn cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read_even_with_spaces_in_the_command_name() {
        let stat =
            "4242 (berth d) S 1 4242 4242 0 -1 4194560 2000 0 0 0 150 50 0 0 20 0 12 0 100 0";
        assert_eq!(cpu_seconds(stat), Some(2.0));
        let status = "Name:\tberthd\nVmPeak:\t  90000 kB\nVmRSS:\t   20480 kB\n";
        assert_eq!(resident_bytes(status), Some(20 << 20));
    }

    #[test]
    fn this_process_reads_itself() {
        let figures = ProcessFigures::read().unwrap();
        assert!(figures.resident_memory_bytes > 1 << 20);
        assert!(figures.open_fds > 0);
    }
}
