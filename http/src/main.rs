//! The `parley` binary: parse the command line and hand over to the library.

use clap::Parser;

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use parley::cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything is created: the data dir's files, its log segments
    // and backups are this user's alone (files 0600, directories 0700).
    parley::datadir::private_files();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind::*;
            if matches!(
                e.kind(),
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // One line, not clap's usage block.
            let text = e.to_string();
            let line = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("parley: {line} (try --help)");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Some(Command::Admin(cmd)) => parley::admin::run(cmd),
        Some(Command::Serve(args)) => runtime().block_on(parley::serve(args)),
        // No subcommand means `serve` with its defaults and environment.
        None => match Cli::try_parse_from(["parley", "serve"]).map(|c| c.command) {
            Ok(Some(Command::Serve(args))) => runtime().block_on(parley::serve(args)),
            _ => Err(parley::fatal::Fatal::Usage(
                "bad PARLEY_* environment".into(),
            )),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("parley: {}", f.message());
            ExitCode::from(f.exit_code())
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime")
}
