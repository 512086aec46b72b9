//! `storyforge validate`: arguments → the validator → a printed report and
//! the exit code (0 clean, 1 a failing finding, 2 could not start).

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use storyforge::feed::Feed;
use storyforge::validate::{self, report, template::FeedSample};

/// Check images, videos and templates against Instagram's Story rules.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files or directories (walked recursively; files are classified by content).
    #[arg(required_unless_present = "rules")]
    paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    format: FormatArg,
    /// Fail on warnings too.
    #[arg(long)]
    strict: bool,
    /// Largest video in bytes.
    #[arg(long, default_value_t = storyforge::spec::DEFAULT_VIDEO_MAX_BYTES, value_name = "N")]
    max_bytes: u64,
    /// Render every row of this feed through every template and check each Story.
    #[arg(short, long, value_name = "FEED")]
    data: Option<PathBuf>,
    /// The date used for `today` in templates, YYYY-MM-DD [default: today].
    #[arg(long, value_name = "DATE")]
    today: Option<chrono::NaiveDate>,
    /// Extra font directory (Family-Weight.ttf files); repeatable.
    #[arg(long, value_name = "DIR")]
    fonts: Vec<PathBuf>,
    /// List the rule table and exit (no paths needed).
    #[arg(long)]
    rules: bool,
}

/// Runs `storyforge validate`.
pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    if args.rules {
        for r in validate::RULES {
            println!(
                "{} {:<28} {:<8} {}",
                r.id,
                r.name,
                r.severity.label(),
                r.hint
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let fonts = super::load_fonts(&args.fonts)?;
    let sample = match &args.data {
        None => None,
        Some(path) => {
            let feed = Feed::open(path)?;
            let rows = feed
                .rows()?
                .collect::<Result<Vec<_>, _>>()
                .with_context(|| format!("{}: cannot read the feed", path.display()))?;
            Some(FeedSample { feed, rows })
        }
    };
    let mut opts = validate::Options {
        max_video_bytes: args.max_bytes,
        strict: args.strict,
        ..validate::Options::default()
    };
    if let Some(d) = args.today {
        opts.today = d;
    }
    let reports = validate::validate_paths(&args.paths, &fonts, sample.as_ref(), &opts);
    let colour = args.format == FormatArg::Text && std::io::stdout().is_terminal();
    print!(
        "{}",
        report::render(args.format.into(), &reports, args.strict, colour)
    );
    let failed = reports.iter().any(|r| r.fails(args.strict));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `--format`: the CLI's names for [`report::Format`] (the library has no clap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    /// One line per finding and a summary line; colour on a terminal.
    Text,
    /// One JSON document: files, findings, summary.
    Json,
    /// GitHub Actions workflow commands (`::error file=…::…`).
    Github,
    /// JUnit XML, one test case per file.
    Junit,
}

impl From<FormatArg> for report::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Text => Self::Text,
            FormatArg::Json => Self::Json,
            FormatArg::Github => Self::Github,
            FormatArg::Junit => Self::Junit,
        }
    }
}
