//! Safe output file names for a batch's Stories (what a Story is drawn
//! from is hashed in `inputs`).

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
