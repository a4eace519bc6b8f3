//! `tradecloud mock`: a mock of Tradecloud's API. (Being implemented: issue 3.)

use clap::Args;

#[derive(Debug, Args)]
pub struct MockArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

pub async fn run(_args: MockArgs) -> anyhow::Result<()> {
    anyhow::bail!("not implemented yet")
}
