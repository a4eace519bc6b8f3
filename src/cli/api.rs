//! `tradecloud order|shipment|poll|document ...`: calls to Tradecloud's API.
//! (Being implemented: see issue 3.)

use clap::Subcommand;

use super::GlobalArgs;

#[derive(Debug, Subcommand)]
pub enum OrderCommand {
    /// Fetch a whole order (all lines) and print it as JSON.
    Get { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ShipmentCommand {
    /// Fetch a shipment and print it as JSON.
    Get { id: String },
}

#[derive(Debug, Subcommand)]
pub enum PollCommand {
    /// Orders with a delivery schedule.
    Orders,
    /// Orders with a single delivery per line.
    SingleDelivery,
    /// Shipments.
    Shipments,
}

#[derive(Debug, Subcommand)]
pub enum DocumentCommand {
    /// Download a document by objectId or URL.
    Download { source: String },
}

pub async fn run_order(_cmd: OrderCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
pub async fn run_shipment(_cmd: ShipmentCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
pub async fn run_poll(_cmd: PollCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
pub async fn run_document(_cmd: DocumentCommand, _global: &GlobalArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
