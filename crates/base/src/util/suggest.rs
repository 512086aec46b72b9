//! A word and the words it could have meant → a " (did you mean `x`?)"
//! hint (Jaro–Winkler, as cargo does for unknown commands).

/// " (did you mean `x`?)" when a candidate is close to `word`, else "".
pub fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    let lower = word.to_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}
