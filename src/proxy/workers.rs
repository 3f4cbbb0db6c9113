//! nginx's worker processes, seen in `/proc`: a reload leaves the old ones
//! finishing their requests, and the drain waits until they are gone.
//! Only workers of the proxy's own unit count (by their cgroup), and only
//! in bgctl's network namespace, the one whose connections
//! [`super::connections`] reads. A containerised nginx (its own cgroup)
//! has none here: the drain then goes by the connections alone.

/// How a worker's command line begins (an old one's goes on with "is
/// shutting down").
const WORKER_TITLE: &[u8] = b"nginx: worker process";

/// The pids of `unit`'s nginx workers now.
pub fn nginx_workers(unit: &str) -> Vec<u32> {
    let Ok(ours) = std::fs::read_link("/proc/self/ns/net") else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let same_net = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).is_ok_and(|ns| ns == ours);
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_worker(*pid) && in_unit(*pid, unit) && same_net(*pid))
        .collect()
}

/// Whether a worker that was not among `before` runs within `limit`: a
/// reload nginx applied starts new ones; one it could not apply (a `listen`
/// port another process holds passes `nginx -t`, then fails the reload)
/// leaves the old ones alone. With no workers seen here (a containerised
/// nginx), there is nothing to tell by: true.
pub async fn renewed(unit: &str, before: &[u32], limit: std::time::Duration) -> bool {
    if before.is_empty() {
        return true;
    }
    let deadline = std::time::Instant::now() + limit;
    loop {
        if nginx_workers(unit).iter().any(|pid| !before.contains(pid)) {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Whether `pid` is (still) an nginx worker.
pub fn is_worker(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.starts_with(WORKER_TITLE))
}

/// Whether `pid` runs in `unit`'s cgroup (`0::/…/system.slice/<unit>`).
fn in_unit(pid: u32, unit: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).is_ok_and(|c| cgroup_is_unit(&c, unit))
}

fn cgroup_is_unit(cgroup: &str, unit: &str) -> bool {
    cgroup
        .lines()
        .any(|l| l.rsplit_once('/').is_some_and(|(_, last)| last == unit))
}

#[cfg(test)]
mod tests {
    use super::{cgroup_is_unit, is_worker, nginx_workers};

    #[test]
    fn only_the_units_own_cgroup_counts() {
        let cgroup = "0::/machine.slice/sandbox/system.slice/nginx.service\n";
        assert!(cgroup_is_unit(cgroup, "nginx.service"));
        assert!(!cgroup_is_unit(cgroup, "x-nginx.service"));
        assert!(!cgroup_is_unit("0::/system.slice/docker-1a2b.scope\n", "nginx.service"));
    }

    #[test]
    fn this_test_is_no_nginx_worker() {
        assert!(!is_worker(std::process::id()));
        assert!(!nginx_workers("nginx.service").contains(&std::process::id()));
        assert!(!is_worker(u32::MAX), "no such process");
    }
}
