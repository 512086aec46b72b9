//! The `storyforge` command: parse, run, map the outcome to an exit code
//! (0 all good, 1 some items failed, 2 could not start).

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = <cli::Cli as clap::Parser>::parse();
    // Hidden, for the docs test (tests/it/docs.rs): parse the arguments
    // with the real parser, then stop.
    if std::env::var_os("STORYFORGE_PARSE_ONLY").is_some() {
        return ExitCode::SUCCESS;
    }
    cli::init_logging(args.verbose, args.quiet);
    match cli::run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes on one line, skipping causes the message
/// already quotes (many errors include their source's text).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = e.to_string();
    for cause in e.chain().skip(1) {
        let text = cause.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}
