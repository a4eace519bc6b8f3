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

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{digest, SHA256};
use base64::Engine as _;
use http::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::config::{AuthConfig, AuthMethod, ConfigError};

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
    },
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
            Inner::Entra { verifier, .. } => {
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(AuthFailure::Denied("not the Bearer scheme"));
                }
                verifier.verify(credentials).await
            }
        }
    }
}

/// Verifies Entra ID access tokens against the tenant's JWKS.
struct EntraVerifier {
    http: reqwest::Client,
    jwks_url: String,
    validation: Validation,
    allowed_client_ids: Vec<String>,
    min_refresh: Duration,
    max_age: Duration,
    backoff_max: Duration,
    keys: RwLock<KeyCache>,
    /// Held by the one request that fetches the JWKS.
    refresh: tokio::sync::Mutex<()>,
}

/// Delay after the first failed JWKS fetch; doubled per further failure.
const JWKS_BACKOFF_BASE: Duration = Duration::from_secs(1);

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, Arc<DecodingKey>>,
    /// The last successful fetch.
    fetched_at: Option<Instant>,
    /// Fetches tried so far (successful or not): tells a request that waited
    /// for another one's fetch that it need not fetch again.
    attempts: u64,
    /// Failed fetches since the last success.
    failures: u32,
    /// After a failure: no fetch before this.
    retry_at: Option<Instant>,
    /// After a failure: why.
    last_error: Option<String>,
}

/// What to do for a key id, given the cache.
enum Plan {
    Use(Arc<DecodingKey>),
    /// The last fetch succeeded, and its key set lacks the key id.
    Deny,
    /// The last fetch failed and the next one must wait: `503`.
    Unavailable(AuthFailure),
    Fetch,
}

impl KeyCache {
    /// `503` for a key id that is not cached while the JWKS cannot be fetched.
    fn unavailable(&self, kid: &str, now: Instant) -> AuthFailure {
        let retry_after = self
            .retry_at
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
        AuthFailure::Unavailable {
            reason: format!(
                "signing key {kid:?} is not cached and the JWKS cannot be fetched: {}",
                self.last_error
                    .as_deref()
                    .unwrap_or("the JWKS has not been fetched")
            ),
            retry_after,
        }
    }
}

#[derive(Deserialize)]
struct AppClaims {
    /// v2.0 tokens: the calling application.
    azp: Option<String>,
    /// v1.0 tokens: the calling application.
    appid: Option<String>,
}

impl EntraVerifier {
    fn from_config(config: &AuthConfig) -> Result<Self, ConfigError> {
        let tenant = config.tenant_id.as_deref().unwrap_or("");
        let jwks_url = match &config.jwks_url {
            Some(url) => {
                super::config::check_jwks_url(url)?;
                url.clone()
            }
            None if !tenant.is_empty() => {
                format!("https://login.microsoftonline.com/{tenant}/discovery/v2.0/keys")
            }
            None => {
                return Err(ConfigError::Setting(
                    "auth: tenant_id or jwks_url is required for entra".into(),
                ))
            }
        };
        let issuers = if config.issuer.is_empty() {
            vec![
                format!("https://login.microsoftonline.com/{tenant}/v2.0"),
                format!("https://sts.windows.net/{tenant}/"),
            ]
        } else {
            config.issuer.clone()
        };
        if config.audience.is_empty() {
            return Err(ConfigError::Setting(
                "auth: audience is required for entra".into(),
            ));
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&config.audience);
        validation.set_issuer(&issuers);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = config.leeway_secs.unwrap_or(60);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| {
                ConfigError::Setting(format!("auth: cannot build the JWKS client: {e}"))
            })?;
        Ok(EntraVerifier {
            http,
            jwks_url,
            validation,
            allowed_client_ids: config.allowed_client_ids.clone(),
            min_refresh: Duration::from_secs(config.jwks_min_refresh_secs.unwrap_or(30)),
            max_age: Duration::from_secs(config.jwks_max_age_secs.unwrap_or(6 * 3600)),
            backoff_max: Duration::from_secs(config.jwks_backoff_max_secs.unwrap_or(60))
                .max(JWKS_BACKOFF_BASE),
            keys: RwLock::new(KeyCache::default()),
            refresh: tokio::sync::Mutex::new(()),
        })
    }

    async fn verify(&self, token: &str) -> Result<Principal, AuthFailure> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::Denied("not a JWT"))?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthFailure::Denied("JWT algorithm is not RS256"));
        }
        let kid = header.kid.ok_or(AuthFailure::Denied("JWT has no kid"))?;
        let key = self.key(&kid).await?;
        let data =
            jsonwebtoken::decode::<AppClaims>(token, &key, &self.validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind::*;
                AuthFailure::Denied(match e.kind() {
                    InvalidSignature => "JWT signature does not verify",
                    ExpiredSignature => "JWT expired",
                    ImmatureSignature => "JWT not yet valid",
                    InvalidAudience => "JWT audience not accepted",
                    InvalidIssuer => "JWT issuer not accepted",
                    MissingRequiredClaim(_) => "JWT lacks a required claim",
                    _ => "JWT invalid",
                })
            })?;
        let app = data.claims.azp.or(data.claims.appid);
        if !self.allowed_client_ids.is_empty()
            && !app
                .as_ref()
                .is_some_and(|a| self.allowed_client_ids.contains(a))
        {
            return Err(AuthFailure::Denied("calling application not allowed"));
        }
        Ok(Principal(format!("entra:{}", app.unwrap_or_default())))
    }

    /// What the cache allows for `kid` at `now`, without fetching.
    fn plan(&self, cache: &KeyCache, kid: &str, now: Instant) -> Plan {
        let backing_off = cache.retry_at.is_some_and(|t| now < t);
        match cache.keys.get(kid) {
            Some(key) => {
                let fresh = cache
                    .fetched_at
                    .is_some_and(|t| now.duration_since(t) < self.max_age);
                // While the JWKS is unreachable, a cached key stays good.
                if fresh || backing_off {
                    Plan::Use(key.clone())
                } else {
                    Plan::Fetch
                }
            }
            // Not cached, and the JWKS could not be fetched: the key may be
            // a rotated one that the JWKS has; only a fetch can tell.
            None if backing_off => Plan::Unavailable(cache.unavailable(kid, now)),
            // An unknown key id triggers a fetch at most every `min_refresh`,
            // so that made-up key ids cannot hammer the JWKS endpoint; the
            // last fetch succeeded and did not have it.
            None if cache.failures == 0
                && cache
                    .fetched_at
                    .is_some_and(|t| now.duration_since(t) < self.min_refresh) =>
            {
                Plan::Deny
            }
            None => Plan::Fetch,
        }
    }

    fn settle(
        plan: Plan,
        cached: Option<Arc<DecodingKey>>,
    ) -> Result<Arc<DecodingKey>, AuthFailure> {
        match plan {
            Plan::Use(key) => Ok(key),
            Plan::Deny => Err(AuthFailure::Denied("unknown JWT key id")),
            Plan::Unavailable(failure) => Err(failure),
            Plan::Fetch => cached.ok_or(AuthFailure::Denied("unknown JWT key id")),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    async fn key(&self, kid: &str) -> Result<Arc<DecodingKey>, AuthFailure> {
        let (plan, cached, attempts) = {
            let cache = self.read();
            (
                self.plan(&cache, kid, Instant::now()),
                cache.keys.get(kid).cloned(),
                cache.attempts,
            )
        };
        if !matches!(plan, Plan::Fetch) {
            return Self::settle(plan, cached);
        }
        // One request fetches. With a (stale) key at hand, do not wait for
        // another request's fetch; without one, wait for its outcome.
        let _guard = match &cached {
            Some(key) => match self.refresh.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(key.clone()),
            },
            None => self.refresh.lock().await,
        };
        {
            let cache = self.read();
            if cache.attempts != attempts {
                // Another request fetched while this one waited: use its outcome.
                let plan = self.plan(&cache, kid, Instant::now());
                return Self::settle(plan, cache.keys.get(kid).cloned());
            }
        }
        let result = self.fetch().await;
        let mut cache = self.keys.write().unwrap_or_else(|e| e.into_inner());
        cache.attempts += 1;
        match result {
            Ok(keys) => {
                if cache.failures > 0 {
                    tracing::info!(jwks_url = %self.jwks_url, "Entra ID signing keys fetched again");
                }
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                cache.failures = 0;
                cache.retry_at = None;
                cache.last_error = None;
                cache
                    .keys
                    .get(kid)
                    .cloned()
                    .ok_or(AuthFailure::Denied("unknown JWT key id"))
            }
            Err(e) => {
                cache.failures = cache.failures.saturating_add(1);
                let delay = jwks_backoff(cache.failures, self.backoff_max);
                cache.retry_at = Some(Instant::now() + delay);
                tracing::warn!(
                    jwks_url = %self.jwks_url, error = %e, failures = cache.failures,
                    retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    cached_keys = cache.keys.len(),
                    "cannot fetch the Entra ID signing keys; the cached keys stay in use"
                );
                cache.last_error = Some(e);
                match cached {
                    Some(key) => Ok(key),
                    // Whether the JWKS has this key id is unknown: `503`.
                    None => Err(cache.unavailable(kid, Instant::now())),
                }
            }
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<DecodingKey>>, String> {
        let response = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("JWKS answered {}", response.status()));
        }
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let set: JwkSet =
            serde_json::from_slice(&bytes).map_err(|e| format!("invalid JWKS: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            match DecodingKey::from_jwk(jwk) {
                Ok(key) => {
                    keys.insert(kid, Arc::new(key));
                }
                Err(e) => tracing::debug!(%kid, error = %e, "JWKS key skipped"),
            }
        }
        tracing::debug!(keys = keys.len(), "Entra ID signing keys fetched");
        Ok(keys)
    }
}

/// The wait after `failures` failed JWKS fetches: `JWKS_BACKOFF_BASE *
/// 2^(failures-1)`, at most `max`, of which a random part up to half is
/// taken off (so that several receivers do not retry in step).
fn jwks_backoff(failures: u32, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = JWKS_BACKOFF_BASE.saturating_mul(1u32 << exp).min(max);
    let half_ms = u64::try_from((full / 2).as_millis()).unwrap_or(u64::MAX);
    full - Duration::from_millis(fastrand::u64(0..=half_ms))
}

#[cfg(test)]
mod tests {
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
