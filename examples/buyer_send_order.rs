//! A buyer issuing a purchase order with a delivery schedule, and later
//! cancelling one of its lines.
//!
//! Starts a mock of Tradecloud and sends, through the SDK, what a buyer's
//! ERP sends (order/buyer/issue, order/buyer/cancel.md): a new order with
//! two lines, one of them delivered in two parts, then the `cancelled`
//! indicator for the second line through the order indicators endpoint
//! (which changes nothing else of the order). Each message is checked
//! against the documented rules before it is sent: a purchase order
//! number with a space, shown at the end, never leaves the program.
//!
//! ```sh
//! cargo run --example buyer_send_order
//! ```

use tradecloud::api::api_connector::types::{
    OrderByBuyer, OrderIndicatorsLineByBuyer, OrderIndicatorsOrderByBuyer, OrderLineByBuyer,
    SendOrderByBuyer, SendOrderIndicatorsByBuyer,
};
use tradecloud::api::common::types::{
    BuyerLineIndicators, DeliveryScheduleLine, Item, MonetaryAmount, Price, Prices,
};
use tradecloud::client::{Client, ClientError};
use tradecloud::mock::{MockConfig, MockServer};
use tradecloud::types::chrono::NaiveDate;
use tradecloud::types::Decimal;

/// A delivery of `quantity` on `date` at schedule `position`: the date and
/// the quantity as the ERP holds them (a `NaiveDate`; an integer or a
/// `Decimal`), no text to parse.
fn delivery(position: &str, date: NaiveDate, quantity: impl Into<Decimal>) -> DeliveryScheduleLine {
    DeliveryScheduleLine::builder()
        .position(position)
        .date(date)
        .quantity(quantity)
        .build()
}

/// A net price in euros per `per` units.
fn price(euros: Decimal, per: u32) -> Prices {
    Prices::builder()
        .net_price(Price::builder().price_in_transaction_currency(
            MonetaryAmount::builder().value(euros).currency_iso("EUR"),
        ))
        .price_unit_of_measure_iso("PCE")
        .price_unit_quantity(per)
        .build()
}

/// A calendar date, or an error naming it.
fn date(year: i32, month: u32, day: u32) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(year, month, day)
        .ok_or_else(|| format!("{year}-{month}-{day} is not a date"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mock = MockServer::start(MockConfig::new()).await?;
    let login = mock.credentials();
    let client = Client::builder()
        .base_url(mock.base_url()) // leave out for production
        .credentials(&login.username, &login.password)
        .build()?;

    // The supplier's account number in the buyer's ERP, as set in the
    // Tradecloud connection; the purchase order number has no spaces.
    let po = "PO-2025-0042";
    let order = SendOrderByBuyer::builder()
        .order(
            OrderByBuyer::builder()
                .supplier_account_number("SUPPLIER12345")
                .purchase_order_number(po)
                .description("Bearings and seals for line 3"),
        )
        .lines([
            OrderLineByBuyer::builder()
                .position("0001")
                .item(
                    Item::builder()
                        .number("8711223344")
                        .name("Bearing 6204-2RS")
                        .purchase_unit_of_measure_iso("PCE"),
                )
                .delivery_schedule([
                    delivery("1", date(2025, 6, 2)?, 60),
                    delivery("2", date(2025, 7, 1)?, 40),
                ])
                .prices(price(Decimal::new(12345, 2), 100)) // 123.45 EUR per 100
                .build(),
            OrderLineByBuyer::builder()
                .position("0002")
                .item(
                    Item::builder()
                        .number("8711223355")
                        .name("Seal 20x47x7")
                        .purchase_unit_of_measure_iso("PCE"),
                )
                .delivery_schedule([delivery("1", date(2025, 6, 2)?, 250)])
                .prices(price(Decimal::new(85, 2), 1)) // 0.85 EUR each
                .build(),
        ])
        .build();
    // A re-sent order is an update with the same data: the client resends it
    // on a transient failure.
    let answer = client.orders().send(&order).await?;
    println!(
        "issued {po} with {} lines: ok = {:?}",
        order.lines.as_ref().map_or(0, Vec::len),
        answer.ok
    );

    // Later the ERP cancels line 0002: only the indicator is sent.
    let cancel = SendOrderIndicatorsByBuyer::builder()
        .order(OrderIndicatorsOrderByBuyer::builder().purchase_order_number(po))
        .lines([OrderIndicatorsLineByBuyer::builder()
            .position("0002")
            .indicators(BuyerLineIndicators::builder().cancelled(true))])
        .build();
    let answer = client.orders().send_indicators(&cancel).await?;
    println!("cancelled line 0002 of {po}: ok = {:?}", answer.ok);

    // A purchase order number with a space breaks a documented rule: the
    // client says which member and which rule, and sends nothing.
    let mut broken = order.clone();
    broken.order.purchase_order_number = "PO 2025 0042".into();
    match client.orders().send(&broken).await {
        Err(ClientError::InvalidMessage { violations, .. }) => {
            for violation in violations.iter() {
                println!("not sent: {violation}");
            }
        }
        other => return Err(format!("expected the rule to refuse the order: {other:?}").into()),
    }

    let stats = mock.stats();
    let (orders, indicators) = (
        stats.requests_for("sendOrderByBuyerRoute"),
        stats.requests_for("sendOrderIndicatorsByBuyerRoute"),
    );
    println!("the mock received {orders} order(s) and {indicators} indicator message(s)");
    mock.shutdown().await?;
    if (orders, indicators) != (1, 1) {
        return Err("expected one order and one indicator message (the broken one unsent)".into());
    }
    Ok(())
}
