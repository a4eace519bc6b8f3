//! Authentication of the mock (security/authentication.md): Basic
//! credentials, and JWT-shaped access and refresh tokens that really expire.
//!
//! Each API operation accepts the schemes its spec lists (the generated
//! operation table, [`Operation::security`]): Basic credentials on every
//! request only where Tradecloud accepts them, a Bearer token elsewhere.

use std::borrow::Cow;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use http::header::AUTHORIZATION;
use http::HeaderMap;

use super::config::MockUser;
use super::state::{lock, MockState};
use crate::operation::{AuthScheme, Operation};

/// How an API request authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credential {
    Bearer,
    Basic,
}

/// Why a request with Basic credentials is refused where the spec lists no
/// Basic scheme.
fn basic_refused(operation: &Operation) -> String {
    format!(
        "{operation} does not accept Basic authentication (Tradecloud accepts it on every request only for api-connector, object-storage/document, order-search/poll and shipment/poll); log in and send the access token as Bearer"
    )
}

struct TokenEntry {
    user: String,
    session: u64,
    expires_at: Instant,
}

#[derive(Default)]
pub(super) struct Tokens {
    access: HashMap<String, TokenEntry>,
    refresh: HashMap<String, TokenEntry>,
    next_session: u64,
}

impl Tokens {
    fn prune(&mut self, now: Instant) {
        self.access.retain(|_, t| t.expires_at > now);
        self.refresh.retain(|_, t| t.expires_at > now);
    }
}

/// The scheme and the rest of the `Authorization` header.
fn authorization(headers: &HeaderMap) -> Result<(&str, &str), &'static str> {
    headers
        .get(AUTHORIZATION)
        .ok_or("the Authorization header is missing")?
        .to_str()
        .map_err(|_| "the Authorization header is not ASCII")?
        .trim()
        .split_once(' ')
        .ok_or("the Authorization header has no scheme")
}

impl MockState {
    fn check_password(&self, email: &str, password: &str) -> Option<&MockUser> {
        self.users
            .iter()
            .find(|u| u.email.eq_ignore_ascii_case(email) && u.password == password)
    }

    /// The user of a valid `Authorization: Basic` header.
    pub(crate) fn basic_user(&self, headers: &HeaderMap) -> Result<String, &'static str> {
        let (scheme, credentials) = authorization(headers)?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err("log in with Basic authentication");
        }
        let decoded = STANDARD
            .decode(credentials.trim())
            .map_err(|_| "the Basic credentials are not valid base64")?;
        let decoded =
            String::from_utf8(decoded).map_err(|_| "the Basic credentials are not UTF-8")?;
        let (email, password) = decoded
            .split_once(':')
            .ok_or("the Basic credentials have no `:`")?;
        self.check_password(email, password)
            .map(|u| u.email.clone())
            .ok_or("wrong user name or password")
    }

    /// The e-mail address of the user a request authenticates as (a valid
    /// Bearer access token or Basic credentials), if any.
    pub(crate) fn caller(&self, headers: &HeaderMap) -> Option<String> {
        let (scheme, rest) = authorization(headers).ok()?;
        if scheme.eq_ignore_ascii_case("bearer") {
            let tokens = lock(&self.tokens);
            tokens
                .access
                .get(rest.trim())
                .filter(|entry| entry.expires_at > Instant::now())
                .map(|entry| entry.user.clone())
        } else {
            self.basic_user(headers).ok()
        }
    }

    /// Check the `Authorization` header of a request to `operation`: a
    /// valid access token (`Bearer`) or valid Basic credentials, where the
    /// operation's spec lists that scheme.
    pub(crate) fn authorize(
        &self,
        headers: &HeaderMap,
        operation: &Operation,
    ) -> Result<Credential, Cow<'static, str>> {
        let (scheme, rest) = authorization(headers)?;
        if scheme.eq_ignore_ascii_case("bearer") {
            if !operation.accepts(AuthScheme::Bearer) {
                return Err(format!("{operation} does not accept a Bearer token").into());
            }
            let tokens = lock(&self.tokens);
            match tokens.access.get(rest.trim()) {
                Some(entry) if entry.expires_at > Instant::now() => Ok(Credential::Bearer),
                Some(_) => Err("the access token has expired; refresh it".into()),
                None => Err("the access token is not valid".into()),
            }
        } else if scheme.eq_ignore_ascii_case("basic") {
            if !operation.accepts(AuthScheme::Basic) {
                return Err(basic_refused(operation).into());
            }
            Ok(self.basic_user(headers).map(|_| Credential::Basic)?)
        } else {
            Err("unsupported authorization scheme; use Bearer or Basic".into())
        }
    }

    fn new_token(kind: &str, user: &str, lifetime: Duration) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = serde_json::json!({
            "iss": "tradecloud-mock",
            "sub": user,
            "typ": kind,
            "iat": now.as_secs(),
            "exp": (now + lifetime).as_secs_f64().ceil() as u64,
            "jti": format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..)),
        });
        let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
        let signature = URL_SAFE_NO_PAD.encode(fastrand::u128(..).to_be_bytes());
        format!("{header}.{payload}.{signature}")
    }

    fn issue_pair(&self, tokens: &mut Tokens, user: &str, session: u64) -> (String, String) {
        let now = Instant::now();
        let access = Self::new_token("access", user, self.access_lifetime);
        let refresh = Self::new_token("refresh", user, self.refresh_lifetime);
        tokens.access.insert(
            access.clone(),
            TokenEntry {
                user: user.to_owned(),
                session,
                expires_at: now + self.access_lifetime,
            },
        );
        tokens.refresh.insert(
            refresh.clone(),
            TokenEntry {
                user: user.to_owned(),
                session,
                expires_at: now + self.refresh_lifetime,
            },
        );
        (access, refresh)
    }

    /// Log in: a new session with an access and a refresh token.
    pub(crate) fn start_session(&self, user: &str) -> (String, String) {
        let mut tokens = lock(&self.tokens);
        tokens.prune(Instant::now());
        tokens.next_session += 1;
        let session = tokens.next_session;
        self.issue_pair(&mut tokens, user, session)
    }

    /// Refresh: replace a valid refresh token by a new pair; the old refresh
    /// token can no longer be used.
    /// Returns the new access and refresh tokens and the session's user.
    pub(crate) fn refresh_session(
        &self,
        refresh_token: &str,
    ) -> Result<(String, String, String), &'static str> {
        let mut tokens = lock(&self.tokens);
        let entry = tokens
            .refresh
            .remove(refresh_token)
            .ok_or("the refresh token is not valid (or was replaced); log in again")?;
        if entry.expires_at <= Instant::now() {
            return Err("the refresh token has expired; log in again");
        }
        let (access, refresh) = self.issue_pair(&mut tokens, &entry.user, entry.session);
        Ok((access, refresh, entry.user))
    }

    /// Log out: invalidate the refresh token now; the session's access
    /// tokens expire within 10 minutes (as Tradecloud documents).
    pub(crate) fn end_session(&self, refresh_token: &str) -> Result<(), &'static str> {
        let mut tokens = lock(&self.tokens);
        let now = Instant::now();
        let entry = tokens
            .refresh
            .remove(refresh_token)
            .ok_or("the refresh token is not valid")?;
        if entry.expires_at <= now {
            return Err("the refresh token has expired");
        }
        let cap = now + Duration::from_secs(10 * 60);
        for access in tokens
            .access
            .values_mut()
            .filter(|t| t.session == entry.session)
        {
            access.expires_at = access.expires_at.min(cap);
        }
        Ok(())
    }

    pub(crate) fn expire_access_tokens(&self) {
        let now = Instant::now();
        lock(&self.tokens)
            .access
            .values_mut()
            .for_each(|t| t.expires_at = now);
    }

    pub(crate) fn expire_refresh_tokens(&self) {
        let now = Instant::now();
        lock(&self.tokens)
            .refresh
            .values_mut()
            .for_each(|t| t.expires_at = now);
    }

    pub(crate) fn revoke_all_tokens(&self) {
        let mut tokens = lock(&self.tokens);
        tokens.access.clear();
        tokens.refresh.clear();
    }

    pub(crate) fn expire_token(&self, token: &str) -> bool {
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        let Tokens {
            access, refresh, ..
        } = &mut *tokens;
        match access.get_mut(token).or_else(|| refresh.get_mut(token)) {
            Some(entry) => {
                entry.expires_at = now;
                true
            }
            None => false,
        }
    }
}
