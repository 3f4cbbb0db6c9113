//! nginx's worker processes, seen in `/proc`: a reload leaves the old ones
//! finishing their requests, and the drain waits until they are gone.
//! Only workers in bgctl's own network namespace count, the one whose
//! connections [`super::connections`] reads.

use std::path::Path;

/// How a worker's command line begins (an old one's goes on with "is
/// shutting down").
const WORKER_TITLE: &[u8] = b"nginx: worker process";

/// The pids of nginx's workers now.
pub fn nginx_workers() -> Vec<u32> {
    let Ok(ours) = std::fs::read_link("/proc/self/ns/net") else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_worker(*pid) && std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns == ours))
        .collect()
}

/// Whether `pid` is (still) an nginx worker.
pub fn is_worker(pid: u32) -> bool {
    std::fs::read(Path::new("/proc").join(pid.to_string()).join("cmdline")).is_ok_and(|c| c.starts_with(WORKER_TITLE))
}

#[cfg(test)]
mod tests {
    use super::{is_worker, nginx_workers};

    #[test]
    fn this_test_is_no_nginx_worker() {
        assert!(!is_worker(std::process::id()));
        assert!(!nginx_workers().contains(&std::process::id()));
        assert!(!is_worker(u32::MAX), "no such process");
    }
}
