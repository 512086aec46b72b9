//! Names and hashes of a batch's Stories: the input hash that decides
//! whether a Story changed, and safe output file names.

use crate::template::{vars, Variables};

/// sha256 of what a Story is drawn from: the template file and the
/// variables (`today` only when the template mentions it or counts days
/// to a date, so another day changes nothing for one that shows no date).
pub(super) fn input_hash(template: &[u8], vars: &Variables) -> String {
    let mentions = |word: &[u8]| template.windows(word.len()).any(|w| w == word);
    let uses_today = mentions(vars::TODAY.as_bytes()) || mentions(b"days_until");
    let mut pairs: Vec<(&String, &String)> = vars
        .iter()
        .filter(|(k, _)| uses_today || k.as_str() != vars::TODAY)
        .collect();
    pairs.sort();
    let text: String = pairs
        .iter()
        .map(|(k, v)| format!("{}={}\n", k.len(), k) + v + "\n")
        .collect();
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(template);
    h.update(text.as_bytes());
    hex::encode(h.finalize())
}

/// A safe file name ending in `.jpg`: no directories, no leading dots.
pub(super) fn sanitize_name(raw: &str) -> Option<String> {
    let cleaned: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || ":*?\"<>|".contains(c) {
                '-'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim_start_matches(['.', '-']).trim();
    let stem = cleaned
        .strip_suffix(".jpg")
        .or_else(|| cleaned.strip_suffix(".jpeg"))
        .unwrap_or(cleaned)
        .trim_end_matches('.');
    (!stem.is_empty()).then(|| format!("{stem}.jpg"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe() {
        assert_eq!(sanitize_name("../../etc/x").as_deref(), Some("etc-x.jpg"));
        assert_eq!(sanitize_name("a.jpg").as_deref(), Some("a.jpg"));
        assert_eq!(
            sanitize_name("menu: latte").as_deref(),
            Some("menu- latte.jpg")
        );
        assert_eq!(sanitize_name(" .. "), None);
    }
}
