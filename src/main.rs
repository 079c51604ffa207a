//! The `calamari` binary: see `cli` for the commands.

use clap::Parser;

fn main() {
    let cli = calamari::cli::Cli::parse();
    if let calamari::cli::Cmd::Serve { log_format, .. } = cli.command {
        calamari::telemetry::init_logging(log_format);
    }
    match calamari::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("calamari: {e}");
            std::process::exit(1);
        }
    }
}
