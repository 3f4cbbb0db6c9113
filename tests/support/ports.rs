//! Ports for the tests' services, handed out instead of picked by hand: a
//! blue, a green and nginx's listen port, never twice in one test binary,
//! and each free when handed out. Each binary starts at its own block of
//! 26000-31999 (below Linux's ephemeral ports, which clients take), so a
//! service a failed binary left behind is not in the next one's way.

use std::net::TcpListener;
use std::sync::atomic::{AtomicU16, Ordering};

const FIRST: u16 = 26000;
const BLOCKS: u16 = 60;
const BLOCK: u16 = 100;

/// (blue, green, listen).
pub fn ports() -> (u16, u16, u16) {
    (free_port(), free_port(), free_port())
}

/// One free port, for a service beyond a blue, a green and a listen port.
pub fn port() -> u16 {
    free_port()
}

fn free_port() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (base_block() * BLOCK + n) % (BLOCKS * BLOCK);
        if TcpListener::bind(("0.0.0.0", port)).is_ok() {
            return port;
        }
    }
}

/// This binary's block, from its name (FNV-1a).
fn base_block() -> u16 {
    let hash = env!("CARGO_CRATE_NAME")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    (hash % u64::from(BLOCKS)) as u16
}
