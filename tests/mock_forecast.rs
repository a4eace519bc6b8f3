//! Forecasts at the mock over real HTTP (forecast/issue.md,
//! forecast/slimstock.md): a buyer's forecast and Slimstock forecast are
//! answered `200` and appended, never updated, and shown by
//! `GET /mock/forecasts`; a forecast for another supplier changes nothing
//! and is counted as unmatched; a broken rule is a `400` naming the member.

#![cfg(feature = "mock")]

use serde_json::{json, Value};
use tradecloud::mock::{ForecastKind, MockConfig, MockServer};

use crate::mock_support::post;
use crate::request_examples as examples;

const FORECAST: &str = "/api-connector/forecast";
const SLIMSTOCK: &str = "/api-connector/forecast/slimstock";

fn example(name: &str) -> Value {
    let path = examples::fixtures_dir().join("api-connector").join(name);
    serde_json::from_slice(&std::fs::read(path).expect("fixture")).expect("JSON")
}

fn forecast() -> Value {
    example("sendForecastByBuyerRoute.issue-page.json")
}

fn slimstock() -> Value {
    example("sendSlimstockForecastByBuyerRoute.slimstock-page.json")
}

async fn start() -> MockServer {
    MockServer::start(MockConfig::new())
        .await
        .expect("the mock starts")
}

#[tokio::test]
async fn forecasts_are_appended_never_updated_and_shown() {
    let server = start().await;
    let buyer = server.buyer();
    for (path, body) in [
        (FORECAST, forecast()),
        (SLIMSTOCK, slimstock()),
        (FORECAST, forecast()),
    ] {
        let (status, answer) = post(&server, &buyer, path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
        assert_eq!(answer, json!({"ok": true}));
    }
    let kept = server.forecasts();
    let kinds: Vec<ForecastKind> = kept.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            ForecastKind::Forecast,
            ForecastKind::Slimstock,
            ForecastKind::Forecast
        ]
    );
    // The same forecast twice is kept twice, as sent (decimals exact).
    assert_eq!(kept[0].message, kept[2].message);
    assert_eq!(kept[0].message["header"]["forecastNumber"], "FC-2024-W01");
    assert_eq!(
        kept[0].message["lines"][0]["schedule"][0]["quantity"].to_string(),
        "12345678901234.567890"
    );
    assert_eq!(
        kept[1].message["lines"][0]["M35"].to_string(),
        "12345678901234.567890"
    );
    assert!(kept[0].received_at < kept[1].received_at);

    let shown: Value = reqwest::get(format!("http://{}/mock/forecasts", server.local_addr()))
        .await
        .expect("answered")
        .json()
        .await
        .expect("JSON");
    assert_eq!(shown.as_array().map(Vec::len), Some(3), "{shown}");
    assert_eq!(shown[1]["kind"], "slimstock");
    assert_eq!(
        shown[1]["message"]["header"]["forecastNumber"],
        "SLIM-2024-01"
    );
}

#[tokio::test]
async fn a_forecast_for_another_supplier_or_company_changes_nothing() {
    let server = start().await;
    let buyer = server.buyer();
    let mut other_supplier = forecast();
    other_supplier["header"]["supplierAccountNumber"] = json!("NOT-CONNECTED");
    let mut other_company = slimstock();
    other_company["header"]["companyId"] = json!("00000000-0000-0000-0000-000000000000");
    for (path, body) in [(FORECAST, other_supplier), (SLIMSTOCK, other_company)] {
        let (status, answer) = post(&server, &buyer, path, body).await;
        assert_eq!(status, 200, "{path}: {answer}");
    }
    assert!(server.forecasts().is_empty());
    let stats = server.stats();
    assert_eq!(stats.unmatched_messages, 2);
    assert!(
        stats.unmatched[0].contains("supplierAccountNumber NOT-CONNECTED"),
        "{:?}",
        stats.unmatched
    );
    assert!(
        stats.unmatched[1].contains("companyId"),
        "{:?}",
        stats.unmatched
    );
}

#[tokio::test]
async fn a_forecast_breaking_a_documented_rule_is_a_400_naming_the_member() {
    let server = start().await;
    let buyer = server.buyer();
    let line = slimstock()["lines"][0].clone();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            FORECAST,
            {
                let mut f = forecast();
                f["header"]["forecastNumber"] = json!("FC 1");
                f
            },
            "header.forecastNumber",
        ),
        (
            FORECAST,
            {
                let mut f = forecast();
                f["lines"][0]["item"]
                    .as_object_mut()
                    .expect("an item")
                    .remove("buyerItemNumber");
                f
            },
            "buyerItemNumber",
        ),
        (
            FORECAST,
            {
                let mut f = forecast();
                f["lines"][0]["schedule"][1]["endDate"] = json!("2024-02-29T00:00:00");
                f
            },
            "lines[0].schedule[1].endDate",
        ),
        (
            FORECAST,
            {
                let mut f = forecast();
                f["lines"] = json!([]);
                f
            },
            "lines",
        ),
        (
            SLIMSTOCK,
            {
                let mut f = slimstock();
                f["lines"] = Value::Array(vec![line; 501]);
                f
            },
            "lines",
        ),
        (
            SLIMSTOCK,
            {
                let mut f = slimstock();
                f["issueDateTime"] = json!("2023-12-20T08:30:00.5");
                f
            },
            "issueDateTime",
        ),
    ];
    for (path, body, member) in cases {
        let (status, answer) = post(&server, &buyer, path, body).await;
        assert_eq!(status, 400, "{path} {member}: {answer}");
        assert!(answer.to_string().contains(member), "{member}: {answer}");
    }
    assert!(server.forecasts().is_empty());
}
