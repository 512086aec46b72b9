//! What a Story is drawn from, as the ledger compares it: one hash of the
//! template and variables, and the same field by field.

use super::Fields;
use crate::template::{vars, Template, Variables};

/// sha256 of what a Story is drawn from: the template file and the
/// variables (`today` only when the template mentions it or counts days
/// to a date, so another day changes nothing for one that shows no date).
pub(super) fn input_hash(template: &[u8], vars: &Variables) -> String {
    let uses_today = uses_today(template);
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

/// What a Story of `t` reads from `vars`, field by field (see [`Fields`]):
/// the template file and each variable its layers use (`today` when the
/// template mentions it), each as a short hash.
pub(super) fn fields(t: &Template, source: &[u8], vars: &Variables) -> Fields {
    use sha2::Digest;
    let short = |b: &[u8]| hex::encode(&sha2::Sha256::digest(b)[..8]);
    let mut out = Fields::new();
    out.insert("template".into(), short(source));
    let mut names = t.placeholders();
    if uses_today(source) {
        names.push(vars::TODAY.to_string());
    }
    for name in names {
        let v = vars.get(&name).map(String::as_str).unwrap_or("");
        out.insert(name, short(v.as_bytes()));
    }
    out
}

/// True when the template file mentions `today` or counts days to a date.
fn uses_today(template: &[u8]) -> bool {
    let mentions = |word: &[u8]| template.windows(word.len()).any(|w| w == word);
    mentions(vars::TODAY.as_bytes()) || mentions(b"days_until")
}
