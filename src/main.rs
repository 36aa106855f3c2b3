//! `deepbelief`: every experiment of the workspace as one command with
//! subcommands (`deepbelief --help` lists them; each takes `--help`).
//!
//! cargo run --release -- classify --preset quick
use clap::{CommandFactory, FromArgMatches, Parser};
use experiments::commands::Command;

/// Restricted Boltzmann machines and deep belief networks on Burn.
#[derive(Parser, Debug)]
#[command(name = "deepbelief", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

experiments::use_mimalloc!();

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so printing to a closed pipe (`| head`) would
    // panic; a command-line tool ends quietly there instead.
    #[cfg(unix)]
    // SAFETY: called first, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // SAFETY: no other thread exists yet; the run's threads start below.
    unsafe { experiments::pin_burn_default_device(&matches) };
    // clap requires a subcommand; its own matches carry the flags given.
    let subcommand = matches.subcommand().map_or(&matches, |(_, m)| m);
    experiments::run_on_workers(|| cli.command.run(subcommand))
}
