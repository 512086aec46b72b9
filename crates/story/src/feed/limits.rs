//! [`FeedLimits`]: how much one feed may hold (bytes, rows, characters per
//! value), from defaults or environment variables, and the one-line errors
//! that name the feed, the limit and what to do.

use super::{FeedError, FeedRow};

/// Bounds on one feed. Each can be raised with an environment variable
/// (read by [`FeedLimits::from_env`], which [`Feed::open`] uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedLimits {
    /// Largest remote body, and largest JSON/YAML/RSS file read whole
    /// (CSV streams). `STORYFORGE_FEED_MAX_BYTES`. Default: 50,000,000 bytes.
    pub max_bytes: u64,
    /// Most rows (items). `STORYFORGE_FEED_MAX_ITEMS`. Default: 100,000.
    pub max_items: usize,
    /// Longest value of any field, RSS titles included.
    /// `STORYFORGE_FEED_MAX_FIELD_CHARS`. Default: 10,000 characters.
    pub max_field_chars: usize,
}

/// The environment variables behind [`FeedLimits`].
pub const MAX_BYTES_VAR: &str = "STORYFORGE_FEED_MAX_BYTES";
/// See [`FeedLimits::max_items`].
pub const MAX_ITEMS_VAR: &str = "STORYFORGE_FEED_MAX_ITEMS";
/// See [`FeedLimits::max_field_chars`].
pub const MAX_FIELD_VAR: &str = "STORYFORGE_FEED_MAX_FIELD_CHARS";

impl Default for FeedLimits {
    fn default() -> Self {
        FeedLimits {
            max_bytes: 50_000_000,
            max_items: 100_000,
            max_field_chars: 10_000,
        }
    }
}

impl FeedLimits {
    /// The defaults, each overridden by its environment variable when that
    /// holds a whole number (anything else is ignored).
    pub fn from_env() -> Self {
        let d = FeedLimits::default();
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().replace('_', "").parse::<u64>().ok())
        };
        FeedLimits {
            max_bytes: var(MAX_BYTES_VAR).unwrap_or(d.max_bytes),
            max_items: var(MAX_ITEMS_VAR).map_or(d.max_items, |n| n as usize),
            max_field_chars: var(MAX_FIELD_VAR).map_or(d.max_field_chars, |n| n as usize),
        }
    }

    /// The message for a feed over [`FeedLimits::max_bytes`].
    pub(crate) fn too_large(&self, path: &str) -> FeedError {
        FeedError::Parse {
            path: path.to_string(),
            at: String::new(),
            message: format!(
                "the feed is over the {} byte limit; trim it or split it, or raise {MAX_BYTES_VAR}",
                self.max_bytes
            ),
        }
    }

    pub(crate) fn too_many(&self, path: &str) -> FeedError {
        FeedError::Parse {
            path: path.to_string(),
            at: String::new(),
            message: format!(
                "the feed has more than {} rows (the limit); split it, pick rows, or raise {MAX_ITEMS_VAR}",
                self.max_items
            ),
        }
    }

    /// A row error when a value is over [`FeedLimits::max_field_chars`].
    pub(crate) fn check_fields(&self, path: &str, row: &FeedRow) -> Result<(), FeedError> {
        for (name, value) in &row.vars {
            // Bytes bound characters from above: count only when it matters.
            if value.len() > self.max_field_chars {
                let chars = value.chars().count();
                if chars > self.max_field_chars {
                    return Err(FeedError::Row {
                        path: path.to_string(),
                        row: row.describe(),
                        message: format!(
                            "`{name}` is {chars} characters, over the {} character limit; shorten it, or raise {MAX_FIELD_VAR}",
                            self.max_field_chars
                        ),
                    });
                }
            }
        }
        Ok(())
    }
}
