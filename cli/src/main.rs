//! The `tradecloud` command line tool: inspect messages, call Tradecloud's
//! API, and run a mock of Tradecloud. See `tradecloud --help`.

use clap::Parser;

mod cli;

/// mimalloc instead of the system allocator: the receiver allocates and
/// frees many small blocks per request (the decoded body, headers, tasks),
/// and glibc's malloc was a tenth of its CPU time (BENCHMARKS.md, "Receiver").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    // `serve` sets up its logging once its configuration (`[telemetry]`) is read.
    if !matches!(args.command, cli::Command::Serve(_)) {
        cli::init_logging(args.global.verbose);
    }
    match cli::run(args).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::error_chain(&e));
            if let Some(hint) = cli::command_line_hint(&e) {
                eprintln!("hint: {hint}");
            }
            // 1, or the status a sending command chose (`tradecloud order --help`).
            std::process::ExitCode::from(cli::write::exit_code(&e))
        }
    }
}
