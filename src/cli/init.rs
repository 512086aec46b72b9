//! `storyforge init [DIR]`: a project of one's own to start from — a
//! commented storyforge.yaml (the built-in sandbox, the real Instagram and
//! S3 settings commented in), one template, one CSV feed, one job file and
//! the cron lines — and the next three commands. It never overwrites a file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

/// The files `init` writes, by name, with their text (`cron.txt` is made
/// from the folder's path, see [`cron_lines`]).
const FILES: [(&str, &str); 4] = [
    ("storyforge.yaml", include_str!("init/storyforge.yaml")),
    ("story.yaml", include_str!("init/story.yaml")),
    ("stories.csv", include_str!("init/stories.csv")),
    ("job.yaml", include_str!("init/job.yaml")),
];

/// The cron file's name.
const CRON: &str = "cron.txt";

#[derive(Debug, clap::Args)]
pub struct InitArgs {
    /// The folder to write into (made when missing).
    #[arg(default_value = ".")]
    dir: PathBuf,
    /// Overwrite files of the same names (by default `init` refuses to).
    #[arg(long)]
    force: bool,
}

/// Writes the project into `args.dir`, refusing before anything is written
/// when one of its files is already there (unless `--force`).
pub fn init(args: InitArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dir;
    let names = FILES.iter().map(|(n, _)| *n).chain([CRON]);
    if !args.force {
        if let Some(taken) = names.map(|n| dir.join(n)).find(|p| p.exists()) {
            anyhow::bail!(
                "{}: already exists; `storyforge init` never overwrites a file: choose another folder (`storyforge init DIR`), move the file away, or pass --force to overwrite it",
                taken.display()
            );
        }
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot make the folder", dir.display()))?;
    let abs = std::fs::canonicalize(dir)
        .with_context(|| format!("{}: cannot resolve the folder", dir.display()))?;
    let bin = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("storyforge"));
    let cron = cron_lines(&abs, &bin);
    for (name, text) in FILES.iter().copied().chain([(CRON, cron.as_str())]) {
        let path = dir.join(name);
        // create_new: a file that appeared since the check is not overwritten either.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .create_new(!args.force)
            .open(&path);
        file.and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()))
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    let d = shown(dir);
    println!("Wrote a storyforge project into {}:", dir.display());
    println!("  storyforge.yaml  settings: the built-in sandbox (the Instagram and S3 settings are commented in)");
    println!("  story.yaml       a template; stories.csv, its feed (one Story per row)");
    println!("  job.yaml         what `run` makes and publishes");
    println!("  cron.txt         the cron lines, to add with `crontab -e` (`crontab {d}cron.txt` would replace the whole crontab):");
    for line in cron.lines().filter(|l| !l.starts_with('#')) {
        println!("    {line}");
    }
    println!();
    println!("Next:");
    println!("  storyforge validate {d}story.yaml --data {d}stories.csv    # check every row against Instagram's rules");
    println!("  storyforge run {d}job.yaml --config {d}storyforge.yaml     # render, validate, upload, publish to the sandbox");
    println!("  storyforge serve --config {d}storyforge.yaml             # the dashboard: queue, new Stories, recent, quota");
    Ok(ExitCode::SUCCESS)
}

/// The folder as the printed commands name it: empty for the current one,
/// else `DIR/` (quoted for sh when it needs to be).
fn shown(dir: &Path) -> String {
    if dir == Path::new(".") || dir.as_os_str().is_empty() {
        return String::new();
    }
    let d = format!("{}/", dir.display().to_string().trim_end_matches('/'));
    let plain = |c: char| c.is_ascii_alphanumeric() || "_./-".contains(c);
    if d.chars().all(plain) {
        d
    } else {
        quoted(Path::new(&d))
    }
}

/// `cron.txt`: the tick every 5 minutes (scheduled Stories, insights,
/// tokens) and the job every morning, both run in `dir` by `bin`.
fn cron_lines(dir: &Path, bin: &Path) -> String {
    let (d, b) = (quoted(dir), quoted(bin));
    format!(
        "# storyforge's cron lines, written by `storyforge init`: add them with `crontab -e`\n\
         # (`crontab cron.txt` would replace the whole crontab). Times are the machine's;\n\
         # each account's own zone is `timezone:` in storyforge.yaml.\n\
         # Every 5 minutes: publish what is due, collect insights, refresh tokens.\n\
         */5 * * * * cd {d} && {b} tick --config storyforge.yaml >> tick.log 2>&1\n\
         # Every morning at 09:00: the job (rows already published are not published again).\n\
         0 9 * * * cd {d} && {b} run job.yaml --config storyforge.yaml >> run.log 2>&1\n"
    )
}

/// `p` in single quotes for sh (a `'` inside written as `'\''`).
fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', "'\\''"))
}
