//! `tradecloud inspect FILE`: what a webhook body, order or shipment file
//! contains and what changed in it. (Being implemented: issue 3.)

use std::path::PathBuf;

use clap::Args;

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The file to inspect.
    pub file: PathBuf,
}

pub fn run(_args: InspectArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
