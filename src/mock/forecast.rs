//! Forecasts: the buyer's `POST /api-connector/forecast` and
//! `POST /api-connector/forecast/slimstock` (forecast/issue.md,
//! forecast/slimstock.md).
//!
//! A forecast that passed the checks every api-connector message passes
//! ([`super::write::refusal`], the generated stub's rules) is verified as an
//! order is: a `header.companyId` other than the buyer's, or a
//! `header.supplierAccountNumber` other than the supplier the mock's buyer
//! is connected with, changes nothing and is counted and logged as an
//! unmatched message ([`MockStats::unmatched`](super::MockStats)), still
//! answered `200` as an order is (the current pages document no other
//! answer). Otherwise it is **appended** to the forecasts the mock keeps,
//! never merged with an earlier one ("A forecast cannot be updated. Issued
//! forecasts will always be appended to the existing set of forecasts"):
//! the same message sent twice is kept twice. Tradecloud documents no
//! webhook event for forecasts, so none is sent.
//!
//! The forecasts kept, oldest first, are [`MockServer::forecasts`](super::MockServer::forecasts)
//! and `GET /mock/forecasts` (no authentication, beside `/mock/deliveries`).

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::state::MockState;
use crate::api::api_connector::types::ForecastHeaderByBuyer;
use crate::types::DateTime;

/// Which forecast call sent a forecast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ForecastKind {
    /// `POST /api-connector/forecast` (`sendForecastByBuyerRoute`).
    Forecast,
    /// `POST /api-connector/forecast/slimstock` (`sendSlimstockForecastByBuyerRoute`).
    Slimstock,
}

/// A forecast the mock took, as [`MockServer::forecasts`](super::MockServer::forecasts)
/// and `GET /mock/forecasts` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MockForecast {
    /// The call that sent it.
    pub kind: ForecastKind,
    /// When the mock took it.
    pub received_at: DateTime,
    /// The message as the mock decoded it (JSON, the members Tradecloud
    /// documents and any others sent).
    pub message: serde_json::Value,
}

impl MockState {
    /// A buyer's forecast (`message`, whose header is `header`): appended
    /// when it is for the buyer and the supplier it is connected with, else
    /// an unmatched message that changes nothing.
    pub(super) fn process_forecast<M: Serialize>(
        &self,
        kind: ForecastKind,
        header: &ForecastHeaderByBuyer,
        message: &M,
    ) {
        let what = format!("forecast {}", header.forecast_number);
        if let Some(unmatched) = self.not_for_the_buyer(
            &what,
            header.company_id.as_ref(),
            &header.supplier_account_number,
        ) {
            self.unmatched(unmatched);
            return;
        }
        // The message was decoded from JSON, so it encodes again.
        let message = serde_json::to_value(message).unwrap_or_default();
        self.with_store(|store| {
            let received_at = store.stamp();
            store.forecasts.push(MockForecast {
                kind,
                received_at,
                message,
            });
        });
    }

    /// The forecasts taken so far, oldest first.
    pub(crate) fn forecasts(&self) -> Vec<MockForecast> {
        self.with_store(|store| store.forecasts.clone())
    }
}

/// `GET /mock/forecasts`: the forecasts taken so far as JSON, oldest first.
pub(super) async fn route(State(state): State<Arc<MockState>>) -> Response {
    axum::Json(state.forecasts()).into_response()
}
