//! A Story's mentions (`mentions:` of a job entry, placeholders filled)
//! → the usernames sent as the container's `user_tags`, checked against
//! Meta's limits ([`storyforge_base::spec::MAX_USER_TAGS`], username syntax): a
//! leading `@` and spaces dropped, empty values (a placeholder with no
//! value) skipped, repeats sent once.

use storyforge_base::spec;

/// The usernames to tag, or a one-line reason naming the bad one.
pub fn check(mentions: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for m in mentions {
        let name = m.trim().trim_start_matches('@').trim();
        if name.is_empty() {
            continue;
        }
        if let Some(why) = spec::username_problem(name) {
            return Err(format!("mention `{m}` is not an Instagram username: {why}"));
        }
        if !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    if out.len() > spec::MAX_USER_TAGS {
        return Err(format!(
            "{} mentions; Instagram takes at most {} on one Story",
            out.len(),
            spec::MAX_USER_TAGS
        ));
    }
    Ok(out)
}

/// The `user_tags` parameter for `usernames` (no position: optional for
/// Stories).
pub fn user_tags_param(usernames: &[String]) -> String {
    let tags: Vec<serde_json::Value> = usernames
        .iter()
        .map(|u| serde_json::json!({ "username": u }))
        .collect();
    serde_json::Value::Array(tags).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn usernames_are_checked_and_normalised() {
        assert_eq!(
            check(&s(&["@ana.b", " joe_1 ", "", "@ANA.B"])).unwrap(),
            s(&["ana.b", "joe_1"])
        );
        for bad in [
            "with space",
            "dots..twice",
            ".lead",
            "trail.",
            "é",
            &"x".repeat(31),
        ] {
            assert!(check(&s(&[bad])).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("user{i}")).collect();
        assert!(check(&many).unwrap_err().contains("at most 20"));
        assert_eq!(user_tags_param(&s(&["ana.b"])), r#"[{"username":"ana.b"}]"#);
    }
}
