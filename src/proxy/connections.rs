//! Requests in flight to a color: the established TCP connections to its
//! host port, read from the kernel's tables (`/proc/net/tcp`, `tcp6`) of
//! this network namespace, where nginx runs too.

/// `st` of an established connection in `/proc/net/tcp`.
const ESTABLISHED: &str = "01";

/// Established connections in `table` (the text of `/proc/net/tcp` or
/// `tcp6`) whose remote end is port `port` (of any address: nginx may
/// reach a port published on every address through another one).
pub fn established_to(table: &str, port: u16) -> usize {
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|remote| remote.rsplit_once(':'))
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok());
            remote_port == Some(port) && fields.get(3) == Some(&ESTABLISHED)
        })
        .count()
}

/// Established connections from this host to `port` now; the tables that
/// cannot be read (no IPv6) count as empty.
pub fn in_flight(port: u16) -> usize {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|table| established_to(&table, port))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::established_to;

    // Taken from a real /proc/net/tcp: a listener on 9001 (0A), nginx's
    // connection to it (01, remote :2329), its other end (local :2329), and
    // one in TIME_WAIT (06).
    const TABLE: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2329 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0100007F:A1B2 0100007F:2329 01 00000000:00000000 00:00000000 00000000    33        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0100007F:2329 0100007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0100007F:A1B3 0100007F:2329 06 00000000:00000000 03:00000F9D 00000000     0        0 0 3 0000000000000000
";

    #[test]
    fn only_established_connections_to_the_port_count() {
        assert_eq!(established_to(TABLE, 9001), 1);
        assert_eq!(established_to(TABLE, 9002), 0);
        assert_eq!(established_to("", 9001), 0);
    }
}
