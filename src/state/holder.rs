//! Who holds the deploy lock (DESIGN §6): the deploy, and the process by
//! host, boot, pid namespace, pid and start time, so that a holder that
//! died on this host is recognised at once instead of after its lease.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// switch, rollback, reconcile, uninstall ...
    pub verb: String,
    pub deploy_id: String,
    pub host: String,
    pub boot_id: String,
    /// The pid namespace the pid is counted in (`/proc/self/ns/pid`).
    pub pid_ns: String,
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat`: a reused pid has another.
    pub started: u64,
    pub since: String,
}

/// Where a process is: host, boot and pid namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub host: String,
    pub boot_id: String,
    pub pid_ns: String,
}

impl Place {
    /// This process's place, read from the kernel.
    pub fn here() -> Place {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        Place {
            host: read("/proc/sys/kernel/hostname"),
            boot_id: read("/proc/sys/kernel/random/boot_id"),
            pid_ns: std::fs::read_link("/proc/self/ns/pid")
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        }
    }
}

impl Holder {
    /// This process, about to take the lock for `verb`.
    pub fn this_process(verb: &str, deploy_id: &str, since: &str) -> Holder {
        let here = Place::here();
        let pid = std::process::id();
        Holder {
            verb: verb.to_owned(),
            deploy_id: deploy_id.to_owned(),
            host: here.host,
            boot_id: here.boot_id,
            pid_ns: here.pid_ns,
            pid,
            started: start_time(pid).unwrap_or_default(),
            since: since.to_owned(),
        }
    }

    /// Certainly dead: it ran in `here` (same host, boot and pid namespace,
    /// so its pid means the same process) and `started_now` (the start time
    /// of whatever has its pid now) is not its own. A holder elsewhere, or
    /// one that did not say where it runs, is never judged: its lease will.
    pub fn is_dead(&self, here: &Place, started_now: Option<u64>) -> bool {
        let known = !(self.host.is_empty() || self.boot_id.is_empty() || self.pid_ns.is_empty());
        let same_place = self.host == here.host && self.boot_id == here.boot_id && self.pid_ns == here.pid_ns;
        known && same_place && started_now != Some(self.started)
    }

    /// [`is_dead`](Self::is_dead), asked of this host's kernel.
    pub fn is_dead_here(&self) -> bool {
        self.is_dead(&Place::here(), start_time(self.pid))
    }
}

impl fmt::Display for Holder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} (pid {} on {}) since {}",
            self.verb, self.deploy_id, self.pid, self.host, self.since
        )
    }
}

/// When `pid` started (clock ticks since boot), if it lives.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count
    // from its closing one. starttime is field 22, the 20th after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder() -> Holder {
        Holder {
            verb: "switch".into(),
            deploy_id: "d1".into(),
            host: "web1".into(),
            boot_id: "b1".into(),
            pid_ns: "pid:[1]".into(),
            pid: 4242,
            started: 100,
            since: "2026-12-02T00:00:00Z".into(),
        }
    }

    fn place(host: &str, boot: &str, ns: &str) -> Place {
        Place {
            host: host.into(),
            boot_id: boot.into(),
            pid_ns: ns.into(),
        }
    }

    #[test]
    fn only_a_holder_of_this_host_boot_and_pid_namespace_whose_process_is_gone_is_dead() {
        let h = holder();
        let here = place("web1", "b1", "pid:[1]");
        assert!(h.is_dead(&here, None), "its pid is gone");
        assert!(h.is_dead(&here, Some(999)), "its pid is another process now");
        assert!(!h.is_dead(&here, Some(100)), "it lives");
        assert!(
            !h.is_dead(&place("web2", "b1", "pid:[1]"), None),
            "another host: its lease decides"
        );
        assert!(!h.is_dead(&place("web1", "b2", "pid:[1]"), None), "another boot");
        assert!(
            !h.is_dead(&place("web1", "b1", "pid:[2]"), None),
            "another pid namespace"
        );
        let silent = Holder {
            boot_id: String::new(),
            ..holder()
        };
        assert!(!silent.is_dead(&place("web1", "", "pid:[1]"), None), "unknown place");
    }

    #[test]
    fn this_process_is_alive_and_its_description_names_it() {
        let me = Holder::this_process("switch", "d1", "now");
        assert!(me.started > 0 && !me.is_dead_here());
        assert_eq!(me.pid, std::process::id());
        assert!(me.to_string().starts_with(&format!("switch d1 (pid {} on ", me.pid)));
        let back: Holder = serde_json::from_str(&serde_json::to_string(&me).unwrap()).unwrap();
        assert_eq!(back, me);
    }
}
