//! Graph error code and subcode → what to do ([`ErrorClass`]) and what the
//! subcode means, per the error table of the Story spec
//! (`shared/reference/instagram-story-spec.md`).

use serde::Serialize;

/// What to do about a Graph API error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorClass {
    /// The media must be fixed (format, size, shape, URL); never retried.
    FixInput,
    /// The request itself is wrong (a parameter); never retried.
    FixRequest,
    /// A passing failure: retry with exponential backoff and jitter.
    Transient,
    /// Call-rate limit: wait (per the usage header, else 60 s doubling).
    RateLimited,
    /// The publishing quota is used up: wait for the window.
    Quota,
    /// The token is invalid or expired: refresh, else stop the account.
    Auth,
    /// The account is blocked or restricted: stop the account.
    Blocked,
    /// The container is gone or broken: make a new one.
    NewContainer,
    /// The container is not ready: wait and publish the same one again.
    NotReady,
}

impl ErrorClass {
    /// True when the same call may succeed later without changes.
    pub fn retryable(self) -> bool {
        matches!(
            self,
            ErrorClass::Transient | ErrorClass::RateLimited | ErrorClass::NotReady
        )
    }
}

/// Classifies a Graph error by code and subcode (`is_transient` decides
/// codes the table does not name).
pub fn classify(code: i64, subcode: Option<i64>, is_transient: Option<bool>) -> ErrorClass {
    use ErrorClass::*;
    match (code, subcode) {
        (4, Some(2207051)) => Blocked,
        (25, _) | (_, Some(2207050)) => Blocked,
        (368, _) => Blocked,
        (9, _) | (_, Some(2207042)) => Quota,
        (9007, _) | (_, Some(2207027)) => NotReady,
        (-2, Some(2207020)) | (-1, Some(2207053)) | (24, _) => NewContainer,
        (-2, _) | (-1, _) | (1, _) | (2, _) => Transient,
        (4 | 17 | 32 | 613 | 80002, _) => RateLimited,
        (190 | 102 | 463 | 467, _) => Auth,
        (10 | 200..=299, _) => Auth,
        (352 | 9004 | 36000 | 36001 | 36003, _) => FixInput,
        (_, Some(2207026 | 2207004 | 2207005 | 2207009 | 2207052)) => FixInput,
        (100, _) => FixRequest,
        _ if is_transient == Some(true) => Transient,
        _ => FixRequest,
    }
}

/// What a container `ERROR` status subcode (or an error subcode) means.
pub fn subcode_meaning(subcode: i64) -> &'static str {
    match subcode {
        2207001 | 2207032 => "Instagram's server failed to create the media; retry later",
        2207003 => "the media took too long to download; make the URL faster or retry",
        2207004 => "the image is too large (over 8 MiB); re-encode it smaller",
        2207005 => "the media format is not supported; use JPEG or H.264/AAC MP4",
        2207006 => "the container was not found; a new one is needed",
        2207008 => "the container does not exist or expired; a new one is needed",
        2207009 => "the aspect ratio is not supported; use 9:16",
        2207020 => "the media expired before publishing; a new container is needed",
        2207026 => "the video format is not supported; `storyforge transcode` makes a compliant MP4",
        2207027 => "the media is not ready yet; publish again after it finishes",
        2207042 => "the publishing cap for the last 24 h is reached",
        2207050 => "the account is restricted; check the Instagram app",
        2207051 => "Instagram restricts this activity (spam protection); stop and check the account",
        2207052 => "the media could not be fetched from its URL; make it public HTTPS with the right Content-Type",
        2207053 => "an unknown upload error; a new container is needed",
        2207082 | 2207085 => "the video could not be processed; check its codec, duration and frame rate",
        _ => "see Meta's error-code reference",
    }
}

/// The subcode inside a container's `status` text ("Error: … 2207026").
pub fn subcode_in(status: &str) -> Option<i64> {
    status
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| s.len() == 7 && s.starts_with("22"))
        .find_map(|s| s.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_table() {
        use ErrorClass::*;
        let cases = [
            ((-2, Some(2207003)), Transient),
            ((-2, Some(2207020)), NewContainer),
            ((-1, Some(2207001)), Transient),
            ((-1, Some(2207053)), NewContainer),
            ((2, None), Transient),
            ((4, Some(2207051)), Blocked),
            ((4, None), RateLimited),
            ((17, None), RateLimited),
            ((32, None), RateLimited),
            ((613, None), RateLimited),
            ((80002, None), RateLimited),
            ((9, Some(2207042)), Quota),
            ((24, Some(2207006)), NewContainer),
            ((24, Some(2207008)), NewContainer),
            ((25, Some(2207050)), Blocked),
            ((352, Some(2207026)), FixInput),
            ((9004, Some(2207052)), FixInput),
            ((9007, Some(2207027)), NotReady),
            ((36000, Some(2207004)), FixInput),
            ((36001, Some(2207005)), FixInput),
            ((36003, Some(2207009)), FixInput),
            ((100, None), FixRequest),
            ((190, None), Auth),
            ((190, Some(463)), Auth),
        ];
        for ((code, sub), want) in cases {
            assert_eq!(classify(code, sub, None), want, "{code}/{sub:?}");
        }
        assert_eq!(classify(12345, None, Some(true)), Transient);
        assert_eq!(classify(12345, None, Some(false)), FixRequest);
    }

    #[test]
    fn subcodes_in_status_text() {
        assert_eq!(
            subcode_in("Error: Video format not supported (2207026)"),
            Some(2207026)
        );
        assert_eq!(subcode_in("Finished: Media has been uploaded"), None);
    }
}
