//! Fault injection of the mock ([`FaultConfig`]): delays and error statuses
//! answered before authentication, on the `/v2` routes; and the gate of
//! every operation ([`MockState::gate`]) that applies them.

use std::time::Duration;

use axum::response::Response;
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue};

use super::config::{Fault, FaultConfig, FaultTrigger};
use super::state::{error_body, lock, Denied, MockState};
use super::tokens::Credential;
use crate::api::authentication;
use crate::operation::Operation;

pub(super) struct InstalledFault {
    config: FaultConfig,
    seen: u64,
}

pub(super) struct Faults {
    rules: Vec<InstalledFault>,
    rng: fastrand::Rng,
}

impl Faults {
    /// No rules yet; random triggers drawn from `seed` when given.
    pub(super) fn new(seed: Option<u64>) -> Self {
        Faults {
            rules: Vec::new(),
            rng: seed.map(fastrand::Rng::with_seed).unwrap_or_default(),
        }
    }
}

impl MockState {
    pub(crate) fn set_faults(&self, faults: Vec<FaultConfig>) {
        lock(&self.faults).rules = faults
            .into_iter()
            .map(|config| InstalledFault { config, seen: 0 })
            .collect();
    }

    /// Which faults fire for this request: the total delay and the status
    /// to answer, if any. `explicit_only`: only rules naming `operation`.
    fn pick_faults(
        &self,
        operation: &str,
        explicit_only: bool,
    ) -> (Duration, Option<(u16, Option<u64>)>) {
        let mut delay = Duration::ZERO;
        let mut status = None;
        let mut fired = 0;
        {
            let mut faults = lock(&self.faults);
            let Faults { rules, rng } = &mut *faults;
            for rule in rules.iter_mut() {
                let applies = if rule.config.operations.is_empty() {
                    !explicit_only
                } else {
                    rule.config.operations.iter().any(|op| op == operation)
                };
                if !applies {
                    continue;
                }
                rule.seen += 1;
                let fire = match rule.config.trigger {
                    FaultTrigger::Always => true,
                    FaultTrigger::Probability(p) => rng.f64() < p,
                    FaultTrigger::EveryNth(n) => n > 0 && rule.seen % n == 0,
                    FaultTrigger::FirstN(n) => rule.seen <= n,
                };
                if !fire {
                    continue;
                }
                fired += 1;
                match rule.config.fault {
                    Fault::Delay(d) => delay += d,
                    Fault::Status {
                        status: code,
                        retry_after,
                    } => {
                        status.get_or_insert((code, retry_after));
                    }
                }
            }
        }
        if fired > 0 {
            self.count(|s| s.faults_injected += fired);
        }
        (delay, status)
    }

    /// Apply the fault rules to a request: sleep for the delays, and give
    /// the status answer if one fired.
    pub(crate) async fn apply_faults(
        &self,
        operation: &'static str,
        explicit_only: bool,
    ) -> Option<Response> {
        let (delay, status) = self.pick_faults(operation, explicit_only);
        if !delay.is_zero() {
            tracing::debug!(operation, ?delay, "mock fault: delay");
            tokio::time::sleep(delay).await;
        }
        let (code, retry_after) = status?;
        tracing::debug!(operation, code, "mock fault: status");
        let status = crate::server::status(code);
        let body = error_body(format!(
            "{} (fault injected by the Tradecloud mock)",
            status.canonical_reason().unwrap_or("error")
        ));
        let mut response = crate::server::serialized_response(status, "application/json", &body);
        if let Some(secs) = retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        Some(response)
    }

    /// The gate of every API operation (the generated routers call it
    /// through `Api::admit` before anything else): count it, inject faults,
    /// and check the `Authorization` header against the security schemes
    /// its spec lists. Login is let through: it checks its Basic
    /// credentials itself, to count failed logins and to know the user.
    pub(crate) async fn gate(
        &self,
        operation: &'static Operation,
        headers: &HeaderMap,
    ) -> Result<(), Denied> {
        self.record(operation.id);
        if let Some(response) = self.apply_faults(operation.id, false).await {
            return Err(Denied::Response(response));
        }
        if operation.needs_authentication() && operation.id != authentication::operations::LOGIN.id
        {
            match self.authorize(headers, operation) {
                Ok(Credential::Bearer) => self.count(|s| s.bearer_requests += 1),
                Ok(Credential::Basic) => self.count(|s| s.basic_requests += 1),
                Err(reason) => {
                    tracing::debug!(operation = operation.id, %reason, "mock: unauthorized");
                    return Err(Denied::Unauthorized(error_body(reason)));
                }
            }
        }
        // One company's action from the other company's user: refused
        // before anything is read (security/authorization.md).
        if let Some(side) = operation.party {
            if !self.acts_as(headers, side) {
                let message = format!(
                    "{operation} is the {side}'s action and this user is not the {side} company's \
                     integration user (a company executes only its own side's order actions); \
                     call it with the {side}'s credentials"
                );
                tracing::debug!(operation = operation.id, "mock: the other company's action");
                return Err(Denied::Forbidden(error_body(message)));
            }
        }
        Ok(())
    }
}
