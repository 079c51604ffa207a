//! The `calamari` binary: see `cli` for the commands.

use clap::Parser;

fn main() {
    let cli = calamari::cli::Cli::parse();
    if matches!(cli.command, calamari::cli::Cmd::Serve { .. }) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    match calamari::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("calamari: {e}");
            std::process::exit(1);
        }
    }
}
