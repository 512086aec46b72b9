//! `{{variable | filter: "arg"}}` placeholders: parsed once when a template
//! loads ([`Pattern::parse`]) and filled per feed row ([`Pattern::fill`]).
//!
//! Filters: `upper`, `lower`, `title`, `trim`, `slug`, `default: "x"`,
//! `date: "%d %B %Y"` (input `YYYY-MM-DD` or RFC 3339), `days_until`
//! (whole days from the `today` variable to the date, never negative),
//! `truncate: N` (characters, with an ellipsis) and `plural: "day", "days"`
//! (a count with its noun: `1 day`, `3 days`; a third argument,
//! `plural: "day to go", "days to go", "today"`, is the whole text for 0,
//! so a countdown's last day reads "today").

use std::collections::BTreeMap;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use unicode_script::{Script, UnicodeScript};

/// Variable values by name, as text.
pub type Variables = BTreeMap<String, String>;

/// The variable holding the render date (`YYYY-MM-DD`), set by the caller.
pub const TODAY: &str = "today";

/// One filter in a placeholder's chain.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// UPPER CASE.
    Upper,
    /// lower case.
    Lower,
    /// Title Case Of Each Word.
    Title,
    /// Surrounding whitespace removed.
    Trim,
    /// lowercase-ascii-words-joined-by-hyphens, for file names.
    Slug,
    /// The argument when the variable is missing or empty.
    Default(String),
    /// The value read as a date and formatted with this strftime pattern.
    Date(String),
    /// Whole days from `today` to the value (a date), at least 0.
    DaysUntil,
    /// At most this many characters, the last replaced by `…` when cut.
    Truncate(usize),
    /// A whole number with its noun: `1 day`, `3 days`; for 0 the `zero`
    /// text alone when given (`today`), else `0 days`.
    Plural {
        /// The noun after 1 (and -1).
        one: String,
        /// The noun after any other number.
        other: String,
        /// The whole text for 0, when given.
        zero: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Lit(String),
    Expr { var: String, filters: Vec<Filter> },
}

/// A text with placeholders, checked at load time.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    parts: Vec<Part>,
}

/// Why a pattern could not be parsed (a template error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PatternError(pub String);

/// Why a pattern could not be filled (a feed-row error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    /// No value and no `default` filter.
    #[error("variable `{var}` has no value (add it to the feed, to `variables:`, or use `{{{{{var} | default: \"…\"}}}}`)")]
    Missing {
        /// The variable's name.
        var: String,
    },
    /// A `date`/`days_until` filter met a value that is not a date.
    #[error("variable `{var}` = {value:?} is not a date (write YYYY-MM-DD)")]
    NotADate {
        /// The variable's name.
        var: String,
        /// Its value.
        value: String,
    },
    /// A `plural` filter met a value that is not a whole number.
    #[error("variable `{var}` = {value:?} is not a whole number, which `plural` needs (put `days_until` before it for dates)")]
    NotANumber {
        /// The variable's name.
        var: String,
        /// Its value.
        value: String,
    },
}

const FILTERS: &[&str] = &[
    "upper",
    "lower",
    "title",
    "trim",
    "slug",
    "default",
    "date",
    "days_until",
    "truncate",
    "plural",
];

impl Pattern {
    /// Parses `text`, checking every placeholder, filter and date format.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Lit(rest[..start].to_string()));
            }
            let after = &rest[start + 2..];
            let end = after.find("}}").ok_or_else(|| {
                PatternError(format!("unclosed `{{{{` in {text:?}: close it with `}}}}`"))
            })?;
            parts.push(parse_expr(&after[..end])?);
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Lit(rest.to_string()));
        }
        Ok(Pattern { parts })
    }

    /// A pattern with no placeholders.
    pub fn literal(text: &str) -> Pattern {
        Pattern {
            parts: vec![Part::Lit(text.to_string())],
        }
    }

    /// The variables the pattern reads, in order of appearance.
    pub fn variables(&self) -> Vec<&str> {
        self.parts
            .iter()
            .filter_map(|p| match p {
                Part::Expr { var, .. } => Some(var.as_str()),
                Part::Lit(_) => None,
            })
            .collect()
    }

    /// True when the pattern has placeholders.
    pub fn is_dynamic(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, Part::Expr { .. }))
    }

    /// Fills the placeholders from `vars`.
    pub fn fill(&self, vars: &Variables) -> Result<String, FillError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Lit(s) => out.push_str(s),
                Part::Expr { var, filters } => out.push_str(&eval(var, filters, vars)?),
            }
        }
        Ok(out)
    }
}

/// Expands placeholders in the template's own `variables:` defaults
/// (`date: "{{today}}"`), once, against `vars` (defaults, feed row and
/// built-ins). Only the template's text is a template: a value that came
/// from a feed (or any value the row overrode) is data and is never
/// expanded, so `{{…}}` in a feed cell stays as written and one cell cannot
/// multiply into megabytes. A default that cannot be filled stays as
/// written.
pub fn expand_defaults(defaults: &Variables, vars: &mut Variables) {
    let snapshot = vars.clone();
    for (name, default) in defaults {
        if !default.contains("{{") {
            continue;
        }
        let Some(value) = vars.get_mut(name) else {
            continue;
        };
        // Overridden by the row: the row's value is data.
        if value != default {
            continue;
        }
        if let Some(filled) = Pattern::parse(default)
            .ok()
            .and_then(|p| p.fill(&snapshot).ok())
        {
            *value = filled;
        }
    }
}

fn parse_expr(src: &str) -> Result<Part, PatternError> {
    let mut pieces = src.split('|');
    let var = pieces.next().unwrap_or("").trim();
    let valid = !var.is_empty()
        && var
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '-' || c == '.');
    if !valid {
        return Err(PatternError(format!(
            "`{{{{{src}}}}}` does not name a variable (letters, digits, _ - .)"
        )));
    }
    let filters = pieces.map(parse_filter).collect::<Result<_, _>>()?;
    Ok(Part::Expr {
        var: var.to_string(),
        filters,
    })
}

fn parse_filter(src: &str) -> Result<Filter, PatternError> {
    let (name, arg) = match src.split_once(':') {
        // `plural` takes a list of quoted words: it unquotes each itself.
        Some((n, a)) if n.trim() == "plural" => (n.trim(), Some(a.trim().to_string())),
        Some((n, a)) => (n.trim(), Some(unquote(a.trim()))),
        None => (src.trim(), None),
    };
    let need_arg = |what: &str| {
        arg.clone().ok_or_else(|| {
            PatternError(format!(
                "filter `{name}` needs an argument: `{name}: {what}`"
            ))
        })
    };
    Ok(match name {
        "upper" => Filter::Upper,
        "lower" => Filter::Lower,
        "title" => Filter::Title,
        "trim" => Filter::Trim,
        "slug" => Filter::Slug,
        "days_until" => Filter::DaysUntil,
        "default" => Filter::Default(need_arg("\"text\"")?),
        "date" => {
            let fmt = need_arg("\"%d %B %Y\"")?;
            let zoned = ["%z", "%:z", "%::z", "%:::z", "%#z", "%Z", "%+", "%s"];
            if zoned.iter().any(|z| fmt.contains(z)) {
                return Err(PatternError(format!(
                    "date format {fmt:?} asks for a time zone, which feed dates do not have; drop %z/%Z/%+/%s"
                )));
            }
            if StrftimeItems::new(&fmt).any(|i| matches!(i, Item::Error)) {
                return Err(PatternError(format!(
                    "date format {fmt:?} is not a valid strftime pattern (e.g. \"%A %d %B\")"
                )));
            }
            Filter::Date(fmt)
        }
        "plural" => {
            let args = need_arg("\"day\", \"days\"")?;
            let mut list = split_args(&args).into_iter();
            match (list.next(), list.next(), list.next(), list.next()) {
                (Some(one), Some(other), zero, None) => Filter::Plural { one, other, zero },
                _ => {
                    return Err(PatternError(format!(
                        "`plural: {args}` needs two or three quoted words: `plural: \"day\", \"days\"` (and optionally the text for 0, such as \"today\")"
                    )))
                }
            }
        }
        "truncate" => {
            let n = need_arg("40")?;
            Filter::Truncate(n.parse().map_err(|_| {
                PatternError(format!(
                    "`truncate: {n}` needs a whole number of characters"
                ))
            })?)
        }
        other => {
            let hint = storyforge_base::util::suggest::did_you_mean(other, FILTERS.iter().copied());
            return Err(PatternError(format!(
                "unknown filter `{other}`{hint}; filters: {}",
                FILTERS.join(", ")
            )));
        }
    })
}

fn unquote(s: &str) -> String {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return s[1..s.len() - 1].to_string();
        }
    }
    s.to_string()
}

/// `"a", 'b', c` → `[a, b, c]`: comma-separated arguments, each quoted or
/// bare (a quoted one may hold commas).
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let (arg, after) = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => match rest[1..].find(q) {
                Some(end) => (rest[1..=end].to_string(), &rest[end + 2..]),
                None => (rest.to_string(), ""),
            },
            _ => match rest.find(',') {
                Some(end) => (rest[..end].trim().to_string(), &rest[end..]),
                None => (rest.to_string(), ""),
            },
        };
        out.push(arg);
        rest = after.trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            // Text after a closing quote that is not a comma: keep it as
            // one more argument, so the count check refuses it.
            None => {
                out.push(rest.to_string());
                break;
            }
        }
    }
    out
}

/// Reads `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or RFC 3339.
pub fn parse_date(value: &str) -> Option<NaiveDateTime> {
    let v = value.trim();
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0);
    }
    for f in ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(v, f) {
            return Some(d);
        }
    }
    DateTime::parse_from_rfc3339(v)
        .ok()
        .map(|d| d.naive_local())
}

fn eval(var: &str, filters: &[Filter], vars: &Variables) -> Result<String, FillError> {
    let mut value = vars.get(var).cloned();
    for f in filters {
        let v = match (f, value.take()) {
            (Filter::Default(d), v) => Some(v.filter(|s| !s.is_empty()).unwrap_or(d.clone())),
            (_, None) => None,
            (f, Some(v)) => Some(apply(f, var, v, vars)?),
        };
        value = v;
    }
    value.ok_or_else(|| FillError::Missing {
        var: var.to_string(),
    })
}

fn apply(f: &Filter, var: &str, v: String, vars: &Variables) -> Result<String, FillError> {
    let date = |s: &str| {
        parse_date(s).ok_or_else(|| FillError::NotADate {
            var: var.to_string(),
            value: s.to_string(),
        })
    };
    Ok(match f {
        Filter::Upper => v.to_uppercase(),
        Filter::Lower => v.to_lowercase(),
        Filter::Trim => v.trim().to_string(),
        Filter::Title => title_case(&v),
        Filter::Slug => slug(&v),
        Filter::Default(_) => v,
        Filter::Date(fmt) => {
            use std::fmt::Write;
            let d = date(&v)?;
            let mut out = String::new();
            write!(out, "{}", d.format(fmt)).map_err(|_| FillError::NotADate {
                var: var.to_string(),
                value: v.clone(),
            })?;
            out
        }
        Filter::DaysUntil => {
            let today_text = vars.get(TODAY).ok_or_else(|| FillError::Missing {
                var: TODAY.to_string(),
            })?;
            let today = parse_date(today_text).ok_or_else(|| FillError::NotADate {
                var: TODAY.to_string(),
                value: today_text.clone(),
            })?;
            let days = (date(&v)?.date() - today.date()).num_days().max(0);
            days.to_string()
        }
        Filter::Plural { one, other, zero } => {
            let n: i64 = v.trim().parse().map_err(|_| FillError::NotANumber {
                var: var.to_string(),
                value: v.clone(),
            })?;
            match (n, zero) {
                (0, Some(z)) => z.clone(),
                (1 | -1, _) => format!("{n} {one}"),
                _ => format!("{n} {other}"),
            }
        }
        Filter::Truncate(n) => {
            if v.chars().count() <= *n {
                v
            } else {
                let mut s: String = v.chars().take(n.saturating_sub(1)).collect();
                s = s.trim_end().to_string();
                s.push('…');
                s
            }
        }
    })
}

fn title_case(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut start = true;
    for c in v.chars() {
        if start {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        start = c.is_whitespace() || c == '-';
    }
    out
}

/// `Hello, World!` → `hello-world`: safe in file names and URLs. Other
/// scripts are transliterated first (`冬季菜单` → `dong-ji-cai-dan`,
/// `Зимнее меню` → `zimnee-meniu`), emoji are dropped.
pub fn slug(v: &str) -> String {
    let mut out = String::new();
    let ascii: String = v
        .chars()
        .map(|c| {
            if c.is_ascii() {
                return c.to_string();
            }
            // Emoji would transliterate to their names: leave them out.
            let emoji = matches!(c as u32, 0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F | 0x200D | 0xE0000..=0xE007F);
            // Ideographs are words of their own: keep their syllables apart.
            let ideograph = matches!(
                c.script(),
                Script::Han | Script::Hiragana | Script::Katakana | Script::Hangul
            );
            match deunicode::deunicode_char(c) {
                Some(t) if !emoji && ideograph => format!(" {t} "),
                Some(t) if !emoji => t.to_string(),
                _ => " ".to_string(),
            }
        })
        .collect();
    for c in ascii.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Variables {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn fills_with_filters() {
        let p = Pattern::parse("Hi {{ name | upper }}, {{d|date: \"%d %b\"}}!").unwrap();
        let v = vars(&[("name", "ada"), ("d", "2026-12-03")]);
        assert_eq!(p.fill(&v).unwrap(), "Hi ADA, 03 Dec!");
        assert_eq!(p.variables(), vec!["name", "d"]);
    }

    #[test]
    fn default_and_missing() {
        let p = Pattern::parse("{{x | default: 'none' | upper}}").unwrap();
        assert_eq!(p.fill(&vars(&[])).unwrap(), "NONE");
        let q = Pattern::parse("{{x}}").unwrap();
        assert_eq!(
            q.fill(&vars(&[])),
            Err(FillError::Missing { var: "x".into() })
        );
    }

    #[test]
    fn days_until_counts_from_today() {
        let p = Pattern::parse("{{event | days_until}}").unwrap();
        let v = vars(&[("event", "2026-12-25"), ("today", "2026-11-29")]);
        assert_eq!(p.fill(&v).unwrap(), "26");
        let past = vars(&[("event", "2026-01-01"), ("today", "2026-11-29")]);
        assert_eq!(p.fill(&past).unwrap(), "0");
        let bad = vars(&[("event", "soon"), ("today", "2026-11-29")]);
        assert!(matches!(p.fill(&bad), Err(FillError::NotADate { .. })));
    }

    #[test]
    fn plural_counts_down_to_today() {
        let p = Pattern::parse("{{event | days_until | plural: \"day\", \"days\"}} to go").unwrap();
        let on = |today: &str| vars(&[("event", "2026-12-25"), ("today", today)]);
        assert_eq!(p.fill(&on("2026-12-22")).unwrap(), "3 days to go");
        assert_eq!(p.fill(&on("2026-12-24")).unwrap(), "1 day to go");
        assert_eq!(p.fill(&on("2026-12-25")).unwrap(), "0 days to go");
        let last = Pattern::parse(
            "{{event | days_until | plural: 'day to go', \"days to go\", \"Today, see you there!\"}}",
        )
        .unwrap();
        assert_eq!(last.fill(&on("2026-12-24")).unwrap(), "1 day to go");
        assert_eq!(last.fill(&on("2026-12-23")).unwrap(), "2 days to go");
        assert_eq!(
            last.fill(&on("2026-12-25")).unwrap(),
            "Today, see you there!"
        );
        let text = Pattern::parse("{{n | plural: \"day\", \"days\"}}").unwrap();
        assert!(matches!(
            text.fill(&vars(&[("n", "soon")])),
            Err(FillError::NotANumber { .. })
        ));
        assert!(Pattern::parse("{{n | plural: \"day\"}}").is_err());
        assert!(Pattern::parse("{{n | plural}}").is_err());
        assert!(Pattern::parse("{{n | plural: \"a\", \"b\", \"c\", \"d\"}}").is_err());
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert!(Pattern::parse("{{x").is_err());
        assert!(Pattern::parse("{{ }}").is_err());
        let e = Pattern::parse("{{x | uper}}").unwrap_err();
        assert!(e.0.contains("did you mean `upper`"), "{e}");
        assert!(Pattern::parse("{{x | date: \"%Q\"}}").is_err());
        assert!(Pattern::parse("{{x | truncate: many}}").is_err());
    }

    #[test]
    fn slug_and_title() {
        assert_eq!(slug("Hello, World! 2026"), "hello-world-2026");
        assert_eq!(slug("冬季菜单来了"), "dong-ji-cai-dan-lai-liao");
        assert_eq!(slug("Зимнее меню"), "zimnee-meniu");
        assert_eq!(slug("Big sale 🎉🔥 today!"), "big-sale-today");
        assert_eq!(slug("Crème brûlée"), "creme-brulee");
        for title in [
            "قائمة الشتاء هنا",
            "नया मेन्यू आ गया",
            "Зимнее меню",
            "תפריט חורף",
        ] {
            let s = slug(title);
            assert!(s.len() >= 6, "{title} → {s:?}");
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{s}"
            );
        }
        assert_eq!(title_case("flat white"), "Flat White");
        let t = Pattern::parse("{{q|truncate: 5}}").unwrap();
        assert_eq!(t.fill(&vars(&[("q", "abcdefgh")])).unwrap(), "abcd…");
    }

    #[test]
    fn feed_values_are_data_not_templates() {
        let defaults = vars(&[("stamp", "{{today}}"), ("title", "x")]);
        let mut v = defaults.clone();
        // The row overrides `title` with text that looks like a placeholder.
        v.insert("title".into(), "{{today}} {{today}}".into());
        v.insert("today".into(), "2026-12-03".into());
        v.insert("note".into(), "{{title}}".into());
        expand_defaults(&defaults, &mut v);
        assert_eq!(
            v["stamp"], "2026-12-03",
            "the template's default is expanded"
        );
        assert_eq!(
            v["title"], "{{today}} {{today}}",
            "a feed value is kept as written"
        );
        assert_eq!(
            v["note"], "{{title}}",
            "a feed-only value is kept as written"
        );
        // Filled into the template's own text, a value is inserted once.
        let p = Pattern::parse("<{{title}}>").unwrap();
        assert_eq!(p.fill(&v).unwrap(), "<{{today}} {{today}}>");
    }
}
