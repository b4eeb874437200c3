//! Measuring a process from outside: CPU seconds from `/proc/PID/stat`, peak and
//! current resident memory from `/proc/PID/status`.
//!
//! A process that exited but was not reaped yet (a zombie) still has its final
//! `utime`/`stime` in `/proc/PID/stat`, but no memory lines: [`Meter`] keeps the
//! last memory figures it saw, so sample it often (the scenarios do, every 100 ms).

use std::sync::OnceLock;

/// Clock ticks per second of `utime`/`stime` (`getconf CLK_TCK`, 100 on Linux).
pub fn clk_tck() -> u64 {
    static TCK: OnceLock<u64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// One reading of `/proc/PID/stat` and `/proc/PID/status`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// utime + stime of the process (all its threads) plus those of children it
    /// reaped (cutime + cstime), in seconds.
    pub cpu_s: f64,
    /// `VmHWM`: peak resident set, KiB (None for a zombie).
    pub hwm_kib: Option<u64>,
    /// `VmRSS`: resident set now, KiB (None for a zombie).
    pub rss_kib: Option<u64>,
    /// The state letter: R, S, D, Z, ...
    pub state: char,
}

/// Parses the text of `/proc/PID/stat`.
pub fn parse_stat(text: &str, tck: u64) -> Result<(char, f64), String> {
    // "pid (comm) S ppid ...": comm may hold spaces and parentheses; the last ')' ends it.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or_else(|| format!("unexpected /proc stat format: {text:?}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state); utime is field 14, stime 15, cutime 16, cstime 17.
    if fields.len() < 15 {
        return Err(format!("short /proc stat line: {text:?}"));
    }
    let state = fields[0].chars().next().unwrap_or('?');
    let mut ticks = 0u64;
    for f in &fields[11..15] {
        let v: i64 = f.parse().map_err(|_| format!("bad tick count {f:?} in /proc stat"))?;
        ticks = ticks.saturating_add(v.max(0) as u64);
    }
    Ok((state, ticks as f64 / tck.max(1) as f64))
}

/// The value in KiB of a `Key:   1234 kB` line of `/proc/PID/status`.
pub fn status_kib(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(key)?.strip_prefix(':')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Reads the process now. Fails once the process is gone (reaped).
pub fn sample(pid: u32) -> Result<Sample, String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
    let (state, cpu_s) = parse_stat(&stat, clk_tck())?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    Ok(Sample {
        cpu_s,
        hwm_kib: status_kib(&status, "VmHWM"),
        rss_kib: status_kib(&status, "VmRSS"),
        state,
    })
}

/// Follows one process: CPU since a baseline, peak RSS.
#[derive(Clone, Debug)]
pub struct Meter {
    pub pid: u32,
    base_cpu_s: f64,
    last: Sample,
    hwm_kib: u64,
}

impl Meter {
    /// Starts following `pid`; CPU is counted from now (see [`Meter::from_start`]).
    pub fn new(pid: u32) -> Result<Meter, String> {
        let s = sample(pid)?;
        Ok(Meter {
            pid,
            base_cpu_s: s.cpu_s,
            last: s,
            hwm_kib: s.hwm_kib.unwrap_or(0),
        })
    }

    /// Follows `pid` counting all the CPU it used since it started.
    pub fn from_start(pid: u32) -> Result<Meter, String> {
        let mut m = Meter::new(pid)?;
        m.base_cpu_s = 0.0;
        Ok(m)
    }

    /// Counts CPU from now on.
    pub fn rebase(&mut self) {
        let _ = self.poll();
        self.base_cpu_s = self.last.cpu_s;
    }

    /// Takes a sample; keeps the last good one if the process is gone.
    pub fn poll(&mut self) -> Result<Sample, String> {
        let s = sample(self.pid)?;
        self.last.cpu_s = s.cpu_s;
        self.last.state = s.state;
        if s.hwm_kib.is_some() {
            self.last.hwm_kib = s.hwm_kib;
            self.last.rss_kib = s.rss_kib;
        }
        self.hwm_kib = self.hwm_kib.max(s.hwm_kib.unwrap_or(0));
        Ok(self.last)
    }

    /// CPU seconds since the baseline, as of the last sample.
    pub fn cpu_s(&self) -> f64 {
        (self.last.cpu_s - self.base_cpu_s).max(0.0)
    }

    /// Peak resident set in MiB, as of the last sample.
    pub fn peak_rss_mib(&self) -> f64 {
        self.hwm_kib as f64 / 1024.0
    }

    /// Resident set now in MiB, as of the last sample.
    pub fn rss_mib(&self) -> f64 {
        self.last.rss_kib.unwrap_or(0) as f64 / 1024.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_comm() {
        let line = "1234 (we ird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 4 0 1 2 3";
        let (state, cpu) = parse_stat(line, 100).unwrap();
        assert_eq!(state, 'S');
        assert!((cpu - 3.10).abs() < 1e-9, "{cpu}");
    }

    #[test]
    fn reads_status_lines() {
        let text = "Name:\tx\nVmHWM:\t   20480 kB\nVmRSS:\t    1024 kB\n";
        assert_eq!(status_kib(text, "VmHWM"), Some(20480));
        assert_eq!(status_kib(text, "VmRSS"), Some(1024));
        assert_eq!(status_kib(text, "VmPeak"), None);
    }

    #[test]
    fn samples_itself() {
        let mut m = Meter::from_start(std::process::id()).unwrap();
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        m.poll().unwrap();
        assert!(m.peak_rss_mib() > 0.0);
        assert!(m.cpu_s() >= 0.0);
    }
}
