//! Microsoft Entra ID access tokens (JWT, RS256), checked against the
//! tenant's JWKS, fetched once for all waiting requests and retried after a
//! backoff (see the parent module's docs).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{AuthFailure, Principal};
use crate::receiver::config::{self, AuthConfig, ConfigError};

/// Verifies Entra ID access tokens against the tenant's JWKS.
pub(super) struct EntraVerifier {
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

/// How long `/readyz` waits for a JWKS fetch (its own timeout is 10 s, the
/// store's check before it takes at most 5 s).
const READY_FETCH_TIMEOUT: Duration = Duration::from_secs(4);

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
    pub(super) fn from_config(config: &AuthConfig) -> Result<Self, ConfigError> {
        let tenant = config.tenant_id.as_deref().unwrap_or("");
        let jwks_url = match &config.jwks_url {
            Some(url) => {
                config::check_jwks_url(url)?;
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

    pub(super) async fn verify(&self, token: &str) -> Result<Principal, AuthFailure> {
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
        let cache = self.record(result);
        if cache.failures == 0 {
            cache
                .keys
                .get(kid)
                .cloned()
                .ok_or(AuthFailure::Denied("unknown JWT key id"))
        } else {
            match cached {
                Some(key) => Ok(key),
                // Whether the JWKS has this key id is unknown: `503`.
                None => Err(cache.unavailable(kid, Instant::now())),
            }
        }
    }

    /// Record the outcome of a fetch in the cache (the caller holds
    /// `refresh`): the new keys, or a failure and the backoff after it.
    fn record(
        &self,
        result: Result<HashMap<String, Arc<DecodingKey>>, String>,
    ) -> std::sync::RwLockWriteGuard<'_, KeyCache> {
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
            }
        }
        cache
    }

    /// Whether webhooks with tokens can be checked now, for `/readyz`.
    /// Without any key cached (before the first token, or while the JWKS
    /// cannot be fetched) every token is answered `503`: `Err` says why,
    /// after fetching the JWKS (at most `READY_FETCH_TIMEOUT`) unless the
    /// backoff after a failure, or `min_refresh` after a key set without
    /// keys, forbids it. Cached keys that are out of date are fetched again
    /// too, without waiting for another fetch; while that fails, tokens
    /// signed with the cached keys are still accepted (a warning, `Ok(Some)`),
    /// only a rotated key's get `503`.
    pub(super) async fn readiness(&self) -> Result<Option<String>, String> {
        let (fetch, attempts, empty) = {
            let cache = self.read();
            let now = Instant::now();
            let backing_off = cache.retry_at.is_some_and(|t| now < t);
            let within = |age: Duration| {
                cache
                    .fetched_at
                    .is_some_and(|t| now.duration_since(t) < age)
            };
            let fetch = !backing_off
                && if cache.keys.is_empty() {
                    cache.failures > 0 || !within(self.min_refresh)
                } else {
                    !within(self.max_age)
                };
            (fetch, cache.attempts, cache.keys.is_empty())
        };
        if fetch {
            let deadline = tokio::time::Instant::now() + READY_FETCH_TIMEOUT;
            // Without keys, wait for a request's fetch (up to the deadline);
            // with keys, one is enough.
            let guard = if empty {
                tokio::time::timeout_at(deadline, self.refresh.lock())
                    .await
                    .ok()
            } else {
                self.refresh.try_lock().ok()
            };
            // Another fetch meanwhile answers for this one.
            if guard.is_some() && self.read().attempts == attempts {
                let result = match tokio::time::timeout_at(deadline, self.fetch()).await {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "no answer within {} s",
                        READY_FETCH_TIMEOUT.as_secs()
                    )),
                };
                drop(self.record(result));
            }
        }
        let cache = self.read();
        let error = cache.last_error.as_deref();
        match (cache.keys.len(), error) {
            (0, Some(error)) => Err(format!(
                "the Entra ID signing keys cannot be fetched from {} ([auth] jwks_url): {error}; \
                 every webhook is answered 503 until they can",
                self.jwks_url
            )),
            (0, None) if cache.fetched_at.is_some() => Err(format!(
                "the Entra ID key set at {} ([auth] jwks_url) holds no usable signing key: \
                 every webhook is refused",
                self.jwks_url
            )),
            (0, None) => Err(format!(
                "the Entra ID signing keys have not been fetched from {} ([auth] jwks_url) yet",
                self.jwks_url
            )),
            (keys, Some(error)) => Ok(Some(format!(
                "the Entra ID signing keys cannot be fetched again from {} ([auth] jwks_url): \
                 {error}; tokens signed with the {keys} cached key(s) are accepted, a new \
                 (rotated) key's are answered 503 until they can",
                self.jwks_url
            ))),
            (_, None) => Ok(None),
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
pub(super) fn jwks_backoff(failures: u32, max: Duration) -> Duration {
    let exp = failures.saturating_sub(1).min(20);
    let full = JWKS_BACKOFF_BASE.saturating_mul(1u32 << exp).min(max);
    let half_ms = u64::try_from((full / 2).as_millis()).unwrap_or(u64::MAX);
    full - Duration::from_millis(fastrand::u64(0..=half_ms))
}
