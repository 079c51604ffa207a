//! The `calamari` binary: see `cli` for the commands.

use clap::Parser;

fn main() {
    calamari::allocator::configure();
    let cli = calamari::cli::Cli::parse();
    if let calamari::cli::Cmd::Serve { log_format, .. } = cli.command {
        calamari::telemetry::init_logging(log_format);
    } else {
        // A client command whose output is piped into `head` ends quietly when the pipe closes,
        // as other Unix tools do (Rust ignores SIGPIPE, and println! would panic on EPIPE). The
        // server keeps ignoring it: a closed socket is an error there, not a reason to exit.
        #[cfg(unix)]
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match calamari::cli::run(cli) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("calamari: {e}");
            std::process::exit(1);
        }
    }
}
