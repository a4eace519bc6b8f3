//! Passwords, sessions, CSRF tokens and the login rate limit of the console.
//!
//! - **Passwords** are kept only as PBKDF2-HMAC-SHA256 hashes (a random salt
//!   per start, [`PBKDF2_ROUNDS`] rounds, aws-lc-rs which the receiver
//!   builds anyway); a login is checked against every role's hash, so that
//!   its time does not tell which role exists.
//! - **Sessions** are random 256-bit ids in memory, issued anew at every
//!   login (a session id planted before the login is never promoted:
//!   no session fixation), ended after `idle` without a request and after
//!   `max_age` in any case, and at logout. The cookie is `HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, and `Secure` over HTTPS. Several receivers
//!   on one PostgreSQL inbox each keep their own sessions: log in to the one
//!   you open.
//! - **CSRF**: every session has its own random token, put in every form
//!   and required (compared in constant time) on every `POST`; a `POST`
//!   without it, or with another session's, is refused with `403`. The
//!   login form, which has no session yet, is refused with `403` when
//!   the browser says another site sent it ([`cross_site_login`]).
//! - **Login rate limit**: at most [`FAILURES_PER_ADDRESS`] failed logins per
//!   client address and [`FAILURES_IN_ALL`] in all within [`FAILURE_WINDOW`];
//!   beyond that every login (right or wrong) is answered `429` with
//!   `Retry-After` until the window has passed.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use aws_lc_rs::pbkdf2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

/// PBKDF2 rounds of the password hashes (OWASP's 2023 figure for
/// PBKDF2-HMAC-SHA256 is 600,000; a login costs about a tenth of a second).
pub const PBKDF2_ROUNDS: u32 = 600_000;
/// Failed logins per client address within [`FAILURE_WINDOW`].
pub const FAILURES_PER_ADDRESS: usize = 5;
/// Failed logins from all addresses within [`FAILURE_WINDOW`].
pub const FAILURES_IN_ALL: usize = 50;
/// The window of the login rate limit.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(300);
/// Sessions kept at most; the oldest is ended for a new one beyond that.
const MAX_SESSIONS: usize = 1000;

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Look, replay, mark dead, purge.
    Operator,
    /// Look only.
    ReadOnly,
}

impl Role {
    /// `operator` or `read-only`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Operator => "operator",
            Role::ReadOnly => "read-only",
        }
    }
}

/// A password kept as its PBKDF2 hash.
pub struct PasswordHash {
    salt: [u8; 16],
    hash: [u8; 32],
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(..)")
    }
}

fn rounds() -> NonZeroU32 {
    NonZeroU32::new(PBKDF2_ROUNDS).unwrap_or(NonZeroU32::MIN)
}

impl PasswordHash {
    /// Hash `password` with a fresh random salt.
    pub fn new(password: &str) -> Result<PasswordHash, String> {
        let mut salt = [0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| "the system's random number generator failed".to_string())?;
        let mut hash = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds(),
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        Ok(PasswordHash { salt, hash })
    }

    /// Whether `candidate` is the password (constant time).
    pub fn verify(&self, candidate: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds(),
            &self.salt,
            candidate.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }
}

/// The role's password hashes.
#[derive(Debug)]
pub struct Passwords {
    operator: PasswordHash,
    readonly: Option<PasswordHash>,
}

impl Passwords {
    /// Hash the passwords.
    pub fn new(operator: &str, readonly: Option<&str>) -> Result<Passwords, String> {
        Ok(Passwords {
            operator: PasswordHash::new(operator)?,
            readonly: readonly.map(PasswordHash::new).transpose()?,
        })
    }

    /// The role whose password `candidate` is. Both hashes are computed.
    pub fn role_of(&self, candidate: &str) -> Option<Role> {
        let operator = self.operator.verify(candidate);
        let readonly = self
            .readonly
            .as_ref()
            .is_some_and(|hash| hash.verify(candidate));
        if operator {
            Some(Role::Operator)
        } else if readonly {
            Some(Role::ReadOnly)
        } else {
            None
        }
    }
}

/// `n` random bytes as lower-case hex.
pub fn random_token(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| "the system's random number generator failed".to_string())?;
    Ok(crate::hex::lower(&buf))
}

/// Whether `a` and `b` are equal, in time independent of where they differ.
pub fn same_token(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A logged-in operator.
#[derive(Debug, Clone)]
pub struct Session {
    /// The name given at login (for the audit log).
    pub name: String,
    /// What the session may do.
    pub role: Role,
    /// The session's CSRF token.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The sessions of one console.
#[derive(Debug)]
pub struct Sessions {
    idle: Duration,
    max_age: Duration,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Sessions ended after `idle` without a request and `max_age` after login.
    pub fn new(idle: Duration, max_age: Duration) -> Sessions {
        Sessions {
            idle,
            max_age,
            sessions: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new session (a new id and CSRF token): returns its id.
    pub fn start(&self, name: &str, role: Role) -> Result<String, String> {
        let id = random_token(32)?;
        let csrf = random_token(32)?;
        let now = Instant::now();
        let mut sessions = self.lock();
        sessions.retain(|_, s| self.alive(s, now));
        if sessions.len() >= MAX_SESSIONS {
            if let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                sessions.remove(&oldest);
            }
        }
        sessions.insert(
            id.clone(),
            Session {
                name: name.to_string(),
                role,
                csrf,
                created: now,
                last_seen: now,
            },
        );
        Ok(id)
    }

    fn alive(&self, s: &Session, now: Instant) -> bool {
        now.duration_since(s.last_seen) < self.idle && now.duration_since(s.created) < self.max_age
    }

    /// The live session `id`, its idle time restarted.
    pub fn get(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let alive = sessions.get(id).map(|s| self.alive(s, now))?;
        if !alive {
            sessions.remove(id);
            return None;
        }
        let session = sessions.get_mut(id)?;
        session.last_seen = now;
        Some(session.clone())
    }

    /// End session `id`.
    pub fn end(&self, id: &str) {
        self.lock().remove(id);
    }
}

/// Whether a login may be tried now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Check the password.
    Try,
    /// Too many failures: answer `429` with this `Retry-After`.
    Wait(Duration),
}

/// The failed logins of the last [`FAILURE_WINDOW`].
#[derive(Debug, Default)]
pub struct LoginLimiter {
    failures: Mutex<VecDeque<(Instant, IpAddr)>>,
}

impl LoginLimiter {
    /// Whether `address` may try a login at `now`.
    pub fn admit(&self, address: IpAddr, now: Instant) -> Admission {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        while failures
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) >= FAILURE_WINDOW)
        {
            failures.pop_front();
        }
        let wait_for = |entries: &mut dyn Iterator<Item = &(Instant, IpAddr)>| {
            entries
                .next()
                .map(|(at, _)| FAILURE_WINDOW.saturating_sub(now.duration_since(*at)))
                .unwrap_or(FAILURE_WINDOW)
                .max(Duration::from_secs(1))
        };
        if failures.len() >= FAILURES_IN_ALL {
            return Admission::Wait(wait_for(&mut failures.iter()));
        }
        let from_address = failures.iter().filter(|(_, a)| *a == address).count();
        if from_address >= FAILURES_PER_ADDRESS {
            return Admission::Wait(wait_for(
                &mut failures.iter().filter(|(_, a)| *a == address),
            ));
        }
        Admission::Try
    }

    /// Record a failed login of `address` at `now`.
    pub fn failed(&self, address: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        failures.push_back((now, address));
        if failures.len() > FAILURES_IN_ALL * 4 {
            failures.pop_front();
        }
    }
}

/// Whether a login form was sent from another site (login CSRF: the
/// login form has no session yet, so no CSRF token; another site could
/// log a browser in under a name and role of its choosing). A browser says
/// so in `Sec-Fetch-Site` (anything but `same-origin` or `none`, a typed
/// address); without it, an `Origin` that is `null` or names another
/// authority than the request's `authority` (its `Host`) is another site's.
/// A request with neither (curl, an old browser) is taken as it comes.
pub fn cross_site_login(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    authority: Option<&str>,
) -> bool {
    if let Some(site) = sec_fetch_site {
        let site = site.trim();
        return !(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none"));
    }
    let Some(origin) = origin.map(str::trim) else {
        return false;
    };
    let Some((_, origin_authority)) = origin.split_once("://") else {
        return true; // `null` (a sandboxed or privacy-sensitive context) or garbage
    };
    match authority {
        Some(authority) => !origin_authority
            .trim_end_matches('/')
            .eq_ignore_ascii_case(authority.trim()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_from_another_site_is_told_apart() {
        let here = Some("127.0.0.1:9090");
        // What browsers send for the console's own form.
        assert!(!cross_site_login(
            Some("same-origin"),
            Some("https://127.0.0.1:9090"),
            here
        ));
        assert!(!cross_site_login(Some("none"), None, here));
        // Another site's form, told by Sec-Fetch-Site or by Origin alone.
        assert!(cross_site_login(
            Some("cross-site"),
            Some("https://evil.example"),
            here
        ));
        assert!(cross_site_login(Some("same-site"), None, here));
        assert!(cross_site_login(None, Some("https://evil.example"), here));
        assert!(cross_site_login(None, Some("https://127.0.0.1:9091"), here));
        assert!(cross_site_login(None, Some("null"), here));
        assert!(!cross_site_login(
            None,
            Some("https://127.0.0.1:9090"),
            here
        ));
        assert!(!cross_site_login(
            None,
            Some("HTTP://LOCALHOST:9090"),
            Some("localhost:9090")
        ));
        // Neither header (curl, scripts): as before.
        assert!(!cross_site_login(None, None, here));
    }

    #[test]
    fn passwords_are_hashed_and_tell_the_role() {
        let p = Passwords::new("operator-password-1", Some("viewer-password-22")).unwrap();
        assert_eq!(p.role_of("operator-password-1"), Some(Role::Operator));
        assert_eq!(p.role_of("viewer-password-22"), Some(Role::ReadOnly));
        assert_eq!(p.role_of("operator-password-2"), None);
        assert_eq!(p.role_of(""), None);
        assert!(!format!("{p:?}").contains("operator-password"));
        let only = Passwords::new("operator-password-1", None).unwrap();
        assert_eq!(only.role_of("viewer-password-22"), None);
    }

    #[test]
    fn sessions_are_new_at_each_login_and_expire() {
        let sessions = Sessions::new(Duration::from_secs(60), Duration::from_secs(3600));
        let a = sessions.start("ann", Role::Operator).unwrap();
        let b = sessions.start("ann", Role::Operator).unwrap();
        assert_ne!(a, b, "a fresh id at every login");
        assert_eq!(a.len(), 64);
        let sa = sessions.get(&a).unwrap();
        let sb = sessions.get(&b).unwrap();
        assert_ne!(sa.csrf, sb.csrf, "a CSRF token per session");
        assert_eq!(sa.name, "ann");
        assert!(sessions.get("0000").is_none());
        sessions.end(&a);
        assert!(sessions.get(&a).is_none(), "logged out");
        let short = Sessions::new(Duration::from_millis(1), Duration::from_secs(3600));
        let c = short.start("bob", Role::ReadOnly).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get(&c).is_none(), "idle too long");
        let aged = Sessions::new(Duration::from_secs(60), Duration::from_millis(1));
        let d = aged.start("bob", Role::ReadOnly).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(aged.get(&d).is_none(), "too old");
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let t = random_token(32).unwrap();
        assert!(same_token(&t, &t.clone()));
        assert!(!same_token(&t, &t[1..]));
        assert!(!same_token(&t, ""));
        let mut other = t.clone();
        other.replace_range(0..1, if t.starts_with('0') { "1" } else { "0" });
        assert!(!same_token(&t, &other));
    }

    #[test]
    fn logins_are_rate_limited_per_address_and_in_all() {
        let limiter = LoginLimiter::default();
        let now = Instant::now();
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..FAILURES_PER_ADDRESS {
            assert_eq!(limiter.admit(a, now), Admission::Try);
            limiter.failed(a, now);
        }
        let Admission::Wait(wait) = limiter.admit(a, now) else {
            panic!("the sixth try must wait");
        };
        assert!(wait <= FAILURE_WINDOW && wait >= Duration::from_secs(299));
        assert_eq!(limiter.admit(b, now), Admission::Try, "others still may");
        assert_eq!(
            limiter.admit(a, now + FAILURE_WINDOW),
            Admission::Try,
            "after the window"
        );
        let limiter = LoginLimiter::default();
        for i in 0..FAILURES_IN_ALL {
            let address: IpAddr = [10, 1, (i / 250) as u8, (i % 250) as u8].into();
            limiter.failed(address, now);
        }
        assert!(matches!(limiter.admit(b, now), Admission::Wait(_)));
    }
}
