//! Authentication of Tradecloud's webhook calls: HTTP Basic (RFC 7617), a
//! static Bearer token (RFC 6750), or OAuth 2.0 client-credentials access
//! tokens issued by Microsoft Entra ID (JWT, RS256, signature checked
//! against the tenant's JWKS).
//!
//! Secrets are compared in constant time, on SHA-256 digests so that not
//! even their length leaks. A failure never says which part was wrong: the
//! client gets `401` with a `WWW-Authenticate` challenge and a generic
//! problem description; the reason is logged (without any secret).
//! A JWKS that cannot be fetched is a transient failure (`503` with a
//! `Retry-After` that follows the backoff below): Tradecloud would not
//! retry a `401`, and the event would be lost.
//!
//! The JWKS is fetched once for all waiting requests, never per request: a
//! failed fetch is retried only after a backoff (1 s, doubled per further
//! failure up to `auth.jwks_backoff_max_secs`, with jitter), during which
//! the cached keys stay in use. A token signed with a key that is not
//! cached meanwhile gets `503`, not `401`: Entra ID may have rotated its
//! signing key while its JWKS could not be reached, and only a JWKS fetched
//! successfully can show that a key id is unknown. So `401` for an unknown
//! key id means: the last fetch succeeded and its key set lacks that id. An
//! unknown key id triggers a fetch at most every
//! `auth.jwks_min_refresh_secs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{digest, SHA256};
use base64::Engine as _;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use subtle::ConstantTimeEq;

use super::config::{AuthConfig, AuthMethod, ConfigError};

mod entra;
use entra::EntraVerifier;

/// Who was authenticated, for logs and the inbox's `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(pub String);

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthFailure {
    /// No or unusable credentials: answer `401`. The reason is for logs only.
    Denied(&'static str),
    /// The credentials could not be checked now (the JWKS could not be
    /// fetched): answer `503` so that Tradecloud retries.
    Unavailable {
        /// Why, for logs.
        reason: String,
        /// When a retry can succeed: the end of the JWKS fetch backoff.
        retry_after: Duration,
    },
}

type Digest = [u8; 32];

fn sha256(bytes: &[u8]) -> Digest {
    let d = digest(&SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// The configured authentication method.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

enum Inner {
    Basic {
        username: String,
        user: Digest,
        password: Digest,
        challenge: HeaderValue,
    },
    Bearer {
        token: Digest,
        challenge: HeaderValue,
    },
    Entra {
        verifier: Box<EntraVerifier>,
        challenge: HeaderValue,
        /// The keys of `tradecloud doctor`'s proofs (see `probe_proof`).
        recent: RecentTokens,
    },
}

/// How long an accepted Entra access token keys `tradecloud doctor`'s
/// proofs after it was last accepted: the doctor sends its probes right
/// after a request with the token, and a proof is fresh for
/// `probe_proof::MAX_SKEW` at most.
const TOKEN_KEPT_SECS: u64 = 300;

/// At most this many accepted Entra access tokens are kept as proof keys
/// (Tradecloud and the doctor each use one token for up to an hour); the
/// oldest goes first.
const TOKENS_KEPT: usize = 16;

/// The digests of the Entra access tokens accepted in the last
/// [`TOKEN_KEPT_SECS`], with when each was last accepted, at most
/// [`TOKENS_KEPT`] (the one accepted longest ago goes first). Times are
/// given, so that the expiry is tested without waiting.
#[derive(Default)]
struct RecentTokens(std::sync::Mutex<Vec<(Digest, Instant)>>);

impl RecentTokens {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Digest, Instant)>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The verifier accepted the token with this digest at `now`.
    fn accepted(&self, token: Digest, now: Instant) {
        let mut recent = self.lock();
        recent.retain(|(digest, at)| *digest != token && fresh(*at, now));
        if recent.len() >= TOKENS_KEPT {
            recent.remove(0);
        }
        recent.push((token, now));
    }

    /// The digests of the tokens accepted in the [`TOKEN_KEPT_SECS`] before `now`.
    fn keys(&self, now: Instant) -> Vec<Digest> {
        let mut recent = self.lock();
        recent.retain(|(_, at)| fresh(*at, now));
        recent.iter().map(|(digest, _)| *digest).collect()
    }
}

/// Whether a token accepted `at` still keys proofs at `now`.
fn fresh(at: Instant, now: Instant) -> bool {
    now.saturating_duration_since(at).as_secs() < TOKEN_KEPT_SECS
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let method = match &*self.inner {
            Inner::Basic { .. } => "basic",
            Inner::Bearer { .. } => "bearer",
            Inner::Entra { .. } => "entra",
        };
        f.debug_struct("Authenticator")
            .field("method", &method)
            .finish_non_exhaustive()
    }
}

fn quoted(realm: &str) -> String {
    realm.replace(['"', '\\'], "")
}

impl Authenticator {
    /// The authenticator for `config` (checked with
    /// [`Config::validate_for_serving`](super::config::Config::validate_for_serving)).
    pub fn from_config(config: &AuthConfig) -> Result<Self, ConfigError> {
        let realm = quoted(config.realm.as_deref().unwrap_or("tradecloud-webhook"));
        let missing = |what: &str| ConfigError::Setting(format!("auth: {what} is required"));
        let challenge = |value: String| {
            HeaderValue::from_str(&value).map_err(|_| {
                ConfigError::Setting(format!(
                    "auth.realm {realm:?} cannot go in a WWW-Authenticate header: use printable ASCII"
                ))
            })
        };
        let inner = match config.method {
            None => return Err(missing("method")),
            Some(AuthMethod::Basic) => {
                let username = config.username.clone().ok_or_else(|| missing("username"))?;
                let password = config
                    .password
                    .as_ref()
                    .ok_or_else(|| missing("password"))?;
                Inner::Basic {
                    user: sha256(username.as_bytes()),
                    password: sha256(password.expose().as_bytes()),
                    username,
                    challenge: challenge(format!("Basic realm=\"{realm}\", charset=\"UTF-8\""))?,
                }
            }
            Some(AuthMethod::Bearer) => {
                let token = config.token.as_ref().ok_or_else(|| missing("token"))?;
                Inner::Bearer {
                    token: sha256(token.expose().as_bytes()),
                    challenge: challenge(format!("Bearer realm=\"{realm}\""))?,
                }
            }
            Some(AuthMethod::Entra) => Inner::Entra {
                verifier: Box::new(EntraVerifier::from_config(config)?),
                challenge: challenge(format!("Bearer realm=\"{realm}\""))?,
                recent: RecentTokens::default(),
            },
        };
        Ok(Authenticator {
            inner: Arc::new(inner),
        })
    }

    /// The `WWW-Authenticate` value sent with a `401`.
    pub fn challenge(&self) -> HeaderValue {
        match &*self.inner {
            Inner::Basic { challenge, .. }
            | Inner::Bearer { challenge, .. }
            | Inner::Entra { challenge, .. } => challenge.clone(),
        }
    }

    /// The keys of `tradecloud doctor`'s proofs (see `probe_proof`): the
    /// digest of the Basic password or the static Bearer token; with Entra
    /// ID, which shares no secret with the doctor, the digests of the access
    /// tokens this receiver accepted in the last five minutes (the doctor
    /// sends one, with its token, before its probes without it). Only the
    /// holder of a token this receiver accepted can make a proof with it.
    pub(crate) fn probe_keys(&self) -> Vec<Digest> {
        match &*self.inner {
            Inner::Basic { password, .. } => vec![*password],
            Inner::Bearer { token, .. } => vec![*token],
            Inner::Entra { recent, .. } => recent.keys(Instant::now()),
        }
    }

    /// Whether requests can be authenticated now, for `/readyz`: `Err` (not
    /// ready) says why every request with credentials would be answered
    /// `503`, `Ok(Some)` is a warning. Only Entra ID can fail: without any
    /// signing key (the JWKS has not been fetched, fetched here if need be,
    /// or cannot be) it is not ready; with cached keys while the JWKS cannot
    /// be fetched again, it is ready with a warning (tokens of the cached
    /// keys are accepted, a rotated key's get `503`).
    pub(crate) async fn readiness(&self) -> Result<Option<String>, String> {
        match &*self.inner {
            Inner::Basic { .. } | Inner::Bearer { .. } => Ok(None),
            Inner::Entra { verifier, .. } => verifier.readiness().await,
        }
    }

    /// Check the `Authorization` header of a request.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, AuthFailure> {
        let mut values = headers.get_all(AUTHORIZATION).iter();
        let value = values
            .next()
            .ok_or(AuthFailure::Denied("no Authorization header"))?;
        if values.next().is_some() {
            return Err(AuthFailure::Denied("more than one Authorization header"));
        }
        let value = value
            .to_str()
            .map_err(|_| AuthFailure::Denied("Authorization header is not ASCII"))?;
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        match &*self.inner {
            Inner::Basic {
                username,
                user,
                password,
                ..
            } => {
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(AuthFailure::Denied("not the Basic scheme"));
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credentials)
                    .map_err(|_| AuthFailure::Denied("Basic credentials are not base64"))?;
                let colon = decoded
                    .iter()
                    .position(|b| *b == b':')
                    .ok_or(AuthFailure::Denied("no `:` in Basic credentials"))?;
                let user_ok = sha256(&decoded[..colon]).ct_eq(user);
                let password_ok = sha256(&decoded[colon + 1..]).ct_eq(password);
                if bool::from(user_ok & password_ok) {
                    Ok(Principal(format!("basic:{username}")))
                } else {
                    Err(AuthFailure::Denied("wrong Basic credentials"))
                }
            }
            Inner::Bearer { token, .. } => {
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(AuthFailure::Denied("not the Bearer scheme"));
                }
                if bool::from(sha256(credentials.as_bytes()).ct_eq(token)) {
                    Ok(Principal("bearer".into()))
                } else {
                    Err(AuthFailure::Denied("wrong Bearer token"))
                }
            }
            Inner::Entra {
                verifier, recent, ..
            } => {
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(AuthFailure::Denied("not the Bearer scheme"));
                }
                let principal = verifier.verify(credentials).await?;
                // Accepted: its holder may prove probes with it for a while.
                // The verifier caches the JWKS's keys, not validated tokens:
                // each request's token is checked in full (an RS256
                // signature), so there is no cache miss to do this on.
                recent.accepted(sha256(credentials.as_bytes()), Instant::now());
                Ok(principal)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::entra::jwks_backoff;
    use super::*;
    use crate::receiver::config::Secret;

    #[test]
    fn jwks_backoff_doubles_up_to_the_maximum() {
        let max = Duration::from_secs(60);
        for (failures, full) in [(1, 1), (2, 2), (3, 4), (6, 32), (7, 60), (40, 60)] {
            let full = Duration::from_secs(full);
            for _ in 0..20 {
                let d = jwks_backoff(failures, max);
                assert!(d <= full && d >= full / 2, "{failures}: {d:?}");
            }
        }
    }

    /// The keys of the doctor's proofs with Entra ID: a token counts from
    /// when it was accepted for [`TOKEN_KEPT_SECS`], a token never accepted
    /// never, and at most [`TOKENS_KEPT`] are kept.
    #[test]
    fn recent_tokens_key_proofs_for_accepted_tokens_only_and_for_a_while() {
        let recent = RecentTokens::default();
        let start = Instant::now();
        let later = |secs| start + Duration::from_secs(secs);
        let token = sha256(b"accepted token");
        assert!(recent.keys(start).is_empty());
        recent.accepted(token, start);
        assert_eq!(recent.keys(start), vec![token]);
        assert_eq!(recent.keys(later(TOKEN_KEPT_SECS - 1)), vec![token]);
        assert!(!recent.keys(start).contains(&sha256(b"never accepted")));
        assert!(recent.keys(later(TOKEN_KEPT_SECS)).is_empty(), "expired");
        // Accepted again: it counts from then, once.
        recent.accepted(token, later(TOKEN_KEPT_SECS));
        recent.accepted(token, later(TOKEN_KEPT_SECS + 10));
        assert_eq!(recent.keys(later(TOKEN_KEPT_SECS + 10)), vec![token]);
        assert_eq!(recent.keys(later(2 * TOKEN_KEPT_SECS + 9)), vec![token]);

        let recent = RecentTokens::default();
        let tokens: Vec<Digest> = (0..TOKENS_KEPT + 4)
            .map(|i| sha256(format!("token {i}").as_bytes()))
            .collect();
        for (i, token) in tokens.iter().enumerate() {
            recent.accepted(*token, later(i as u64));
        }
        // The oldest went first.
        assert_eq!(recent.keys(later(30)), tokens[4..].to_vec());
    }

    fn basic() -> Authenticator {
        Authenticator::from_config(&AuthConfig {
            method: Some(AuthMethod::Basic),
            username: Some("tradecloud".into()),
            password: Some(Secret::new("pa:ss")),
            ..Default::default()
        })
        .unwrap()
    }

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[tokio::test]
    async fn basic_accepts_only_the_right_pair() {
        let a = basic();
        assert!(a
            .authenticate(&headers(&format!("Basic {}", b64("tradecloud:pa:ss"))))
            .await
            .is_ok());
        assert!(a
            .authenticate(&headers(&format!("basic  {}", b64("tradecloud:pa:ss"))))
            .await
            .is_ok());
        for wrong in [
            "tradecloud:pa:s",
            "tradecloud:",
            "tradecloudx:pa:ss",
            ":pa:ss",
            "tradecloud",
        ] {
            assert!(
                a.authenticate(&headers(&format!("Basic {}", b64(wrong))))
                    .await
                    .is_err(),
                "{wrong}"
            );
        }
        assert!(a.authenticate(&headers("Basic !!!")).await.is_err());
        assert!(a.authenticate(&headers("Bearer pa:ss")).await.is_err());
        assert!(a.authenticate(&HeaderMap::new()).await.is_err());
        assert!(a.challenge().to_str().unwrap().starts_with("Basic realm="));
    }

    #[test]
    fn a_realm_that_cannot_be_a_header_is_a_config_error() {
        let e = Authenticator::from_config(&AuthConfig {
            method: Some(AuthMethod::Bearer),
            token: Some(Secret::new("t")),
            realm: Some("line\nbreak".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("auth.realm"), "{e}");
    }

    #[tokio::test]
    async fn bearer_accepts_only_the_token() {
        let a = Authenticator::from_config(&AuthConfig {
            method: Some(AuthMethod::Bearer),
            token: Some(Secret::new("t0ken")),
            ..Default::default()
        })
        .unwrap();
        assert!(a.authenticate(&headers("Bearer t0ken")).await.is_ok());
        assert!(a.authenticate(&headers("Bearer t0ke")).await.is_err());
        assert!(a.authenticate(&headers("Bearer t0ken2")).await.is_err());
        assert!(a.authenticate(&headers("Basic t0ken")).await.is_err());
        assert_eq!(
            a.challenge().to_str().unwrap(),
            "Bearer realm=\"tradecloud-webhook\""
        );
    }
}
