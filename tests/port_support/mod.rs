//! Loopback ports for servers a test starts as another process (pebble,
//! PostgreSQL, a receiver), which must be told a port rather than handed a
//! bound listener.

use std::collections::HashSet;
use std::sync::Mutex;

/// A loopback port nothing listened on a moment ago, and never handed out
/// before in this test process.
///
/// The kernel may give the same ephemeral port to two `bind(0)` calls in a
/// row once the first listener is closed; two such ports in one server's
/// config (pebble's directory and management addresses) then collide
/// ("address already in use", seen in CI). Remembering what was handed out
/// keeps the ports of one process distinct.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    let handed_out = handed_out.get_or_insert_with(HashSet::new);
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        if handed_out.insert(port) {
            return port;
        }
    }
}
