//! The `tradecloud` command line tool.

fn main() {
    println!("tradecloud {}", env!("CARGO_PKG_VERSION"));
}
