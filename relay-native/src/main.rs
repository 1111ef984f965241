//! `relay-native`: edgeturn's TURN relay and its operator commands.

use std::process::ExitCode;

use clap::Parser;
use relay_native::cli::{Cli, Command, TokenCommand, check_config, probe, serve, token};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve(args) => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_target(true)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
                .init();
            serve::run(args)
        }
        Command::CheckConfig(args) => check_config::run(args).map(|text| print!("{text}")),
        Command::Token(TokenCommand::Mint(args)) => token::mint(args).map(|v| println!("{v:#}")),
        Command::Token(TokenCommand::Open(args)) => token::open(args).map(|v| println!("{v:#}")),
        Command::Probe(args) => {
            return match probe::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("relay-native probe: {e}");
                    ExitCode::from(e.exit_code())
                }
            };
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relay-native: {e}");
            ExitCode::FAILURE
        }
    }
}
