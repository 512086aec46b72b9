//! `${NAME}` in a settings value → the environment variable's value, for the
//! values that carry secrets (feed header values, webhook URLs). The result
//! is a [`Secret`]: it never prints, and an error names the variable, never
//! a value.

use super::redact::Secret;

/// Why a `${NAME}` could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// The variable is unset or empty.
    #[error("environment variable {0} is not set; export it before running storyforge")]
    Unset(String),
    /// `${` without a closing `}` or with a name that is not a variable name.
    #[error("`${{` must be followed by a variable name and `}}`, such as ${{AIRTABLE_TOKEN}}")]
    Malformed,
}

/// Expands every `${NAME}` in `text` from the environment.
pub fn expand(text: &str) -> Result<Secret, EnvError> {
    expand_with(text, |name| std::env::var(name).ok())
}

/// [`expand`] with the variables from `lookup`.
pub fn expand_with(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Secret, EnvError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find('}').ok_or(EnvError::Malformed)?;
        let name = &after[..end];
        let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(EnvError::Malformed);
        }
        match lookup(name).filter(|v| !v.is_empty()) {
            Some(v) => out.push_str(&v),
            None => return Err(EnvError::Unset(name.to_string())),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(Secret::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_and_names_only_the_variable() {
        let env = |n: &str| (n == "KEY").then(|| "s3cret".to_string());
        let v = expand_with("Bearer ${KEY}", env).unwrap();
        assert_eq!(v.expose(), "Bearer s3cret");
        assert_eq!(v.to_string(), "[redacted]");
        assert_eq!(expand_with("plain", env).unwrap().expose(), "plain");
        let e = expand_with("Bearer ${NOPE}", env).unwrap_err().to_string();
        assert!(e.contains("NOPE") && !e.contains("s3cret"), "{e}");
        assert_eq!(expand_with("${KEY", env), Err(EnvError::Malformed));
        assert_eq!(expand_with("${K-Y}", env), Err(EnvError::Malformed));
    }
}
