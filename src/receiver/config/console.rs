//! `[console]`: the operator's web console.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret, MIN_SECRET_CHARS};

/// `[console]`: the operator's web console (see
/// [`crate::receiver::console`]). Off unless `listen` is set.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address of the console's own listener (`127.0.0.1:9090`); never the
    /// webhook address. Unset: no console, no port.
    pub listen: Option<SocketAddr>,
    /// HTTPS with the receiver's certificate (default). `false` serves plain
    /// HTTP, which is accepted on a loopback address only (behind an SSH
    /// tunnel or a local reverse proxy that terminates TLS).
    pub tls: bool,
    /// The operator password: look, replay, mark dead, purge.
    pub password: Option<Secret>,
    /// A file holding the operator password.
    pub password_file: Option<PathBuf>,
    /// The read-only password (optional): look only.
    pub readonly_password: Option<Secret>,
    /// A file holding the read-only password.
    pub readonly_password_file: Option<PathBuf>,
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u64,
    /// A session ends this many hours after the login in any case.
    pub session_hours: u64,
    /// Append every replay, mark-dead and purge (who, when, what) to this
    /// file, one JSON object per line, besides the log line
    /// (`tradecloud::console::audit`) always written. The receiver does not
    /// start when it cannot open the file for appending; a write that
    /// fails later is said on the page of the action.
    pub audit_file: Option<PathBuf>,
    /// A search of bodies (`q=` text that is no id, purchase order number
    /// or event name) reads at most this many events per page, newest
    /// first; "Older events" goes on below. Bounds each page's time at any
    /// size of inbox: about half a second for 20,000 Tradecloud order
    /// events (14 kB) on a 2-core machine.
    pub body_search_events: u64,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            listen: None,
            tls: true,
            password: None,
            password_file: None,
            readonly_password: None,
            readonly_password_file: None,
            idle_minutes: 30,
            session_hours: 12,
            audit_file: None,
            body_search_events: 20_000,
        }
    }
}

impl ConsoleConfig {
    /// The console needs a password, its own port, and TLS unless it
    /// listens on loopback only.
    pub(super) fn validate(&self, webhook: SocketAddr) -> Result<(), ConfigError> {
        let Some(listen) = self.listen else {
            return Ok(());
        };
        let same_port = listen.port() == webhook.port()
            && (listen.ip() == webhook.ip()
                || listen.ip().is_unspecified()
                || webhook.ip().is_unspecified());
        if same_port {
            return Err(ConfigError::setting(format!(
                "console.listen = {listen} is the webhook address (server.listen = {webhook}): the console \
                 has its own port, never Tradecloud's; use another port such as 127.0.0.1:9090"
            )));
        }
        if !self.tls && !listen.ip().is_loopback() {
            return Err(ConfigError::setting(format!(
                "console.tls = false serves plain HTTP, which is accepted on a loopback address only \
                 (console.listen = {listen}); listen on 127.0.0.1 (reach it through an SSH tunnel) \
                 or keep console.tls = true (HTTPS with the receiver's certificate)"
            )));
        }
        let operator = match &self.password {
            Some(p) if !p.expose().is_empty() => p,
            _ => {
                return Err(ConfigError::setting(
                    "console.listen is set but console.password is not: the console needs a login; \
                     set console.password_file (or console.password, or TRADECLOUD_CONSOLE_PASSWORD)",
                ))
            }
        };
        for (key, secret) in [
            ("console.password", Some(operator)),
            ("console.readonly_password", self.readonly_password.as_ref()),
        ] {
            let Some(secret) = secret else { continue };
            let chars = secret.expose().chars().count();
            if chars < MIN_SECRET_CHARS {
                return Err(ConfigError::setting(format!(
                    "{key} has {chars} characters, fewer than {MIN_SECRET_CHARS}: a short password can be \
                     guessed; use a longer one (e.g. `openssl rand -base64 24`)"
                )));
            }
        }
        if self
            .readonly_password
            .as_ref()
            .is_some_and(|r| r.expose() == operator.expose())
        {
            return Err(ConfigError::setting(
                "console.readonly_password is the operator password (console.password): the roles need \
                 different passwords",
            ));
        }
        if self.body_search_events == 0 {
            return Err(ConfigError::setting(
                "console.body_search_events must be at least 1 (the events a page of a body search \
                 reads; the default is 20000)",
            ));
        }
        if self.idle_minutes == 0 || self.session_hours == 0 {
            return Err(ConfigError::setting(
                "console.idle_minutes and console.session_hours must be at least 1",
            ));
        }
        Ok(())
    }
}
