//! Loopback ports for servers a test starts as another process (pebble,
//! PostgreSQL, a receiver), which must be told a port rather than handed a
//! bound listener.

use std::collections::HashSet;
use std::sync::Mutex;

/// A loopback port nothing listens on, never handed out before in this test
/// process, and outside the kernel's ephemeral range.
///
/// A port found with `bind(0)` and closed again is free for anyone: the
/// kernel gave the same one to two `bind(0)` calls in a row (pebble's
/// directory and management addresses collided in CI, "address already in
/// use"), and any other test's `bind(0)` or outgoing connection may take it
/// before the server this port is meant for starts. Ports below the
/// ephemeral range (`/proc/sys/net/ipv4/ip_local_port_range`) are never
/// chosen by the kernel, and remembering what was handed out keeps the
/// ports of one process distinct.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    let (low, high) = outside_ephemeral_range();
    let span = u32::from(high - low) + 1;
    // Start where another test process (a second checkout's tests) is
    // unlikely to: somewhere chosen by this process's id.
    let start = std::process::id() % span;
    for step in 0..span {
        let port = low + ((start + step) % span) as u16;
        if !handed_out.contains(&port) && std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            handed_out.insert(port);
            return port;
        }
    }
    panic!("no free loopback port in {low}..={high}");
}

/// The ports from 10000 to just below the kernel's ephemeral range, or
/// above it when that leaves too few.
fn outside_ephemeral_range() -> (u16, u16) {
    let (ephemeral_low, ephemeral_high) =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
            .ok()
            .and_then(|s| {
                let mut parts = s.split_whitespace().map(|p| p.parse::<u16>().ok());
                Some((parts.next()??, parts.next()??))
            })
            .unwrap_or((32768, 60999));
    if ephemeral_low > 11000 {
        (10000, ephemeral_low - 1)
    } else if ephemeral_high < 64535 {
        (ephemeral_high + 1, 65535)
    } else {
        (10000, 65535)
    }
}
