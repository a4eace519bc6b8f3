//! The `tradecloud` command line tool: inspect messages, call Tradecloud's
//! API, and run a mock of Tradecloud. See `tradecloud --help`.

use clap::Parser;

mod cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_logging(args.global.verbose);
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
