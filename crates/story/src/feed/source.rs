//! Where a job's feed comes from: `feed: menu.csv` (a path or URL) or
//! `feed: {url, headers}`, whose header values may hold `${ENV}` references
//! (`Authorization: "Bearer ${AIRTABLE_TOKEN}"`). The values are expanded
//! only when the request is made ([`super::remote`]); a [`FeedSource`]
//! holds them as written, never serialises them and never prints them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A feed location with the HTTP headers to send for it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct FeedSource {
    /// A file (relative to the job file) or an `http(s)://` URL.
    pub location: PathBuf,
    /// Header name → value as written (`${NAME}` expanded at request time).
    pub headers: BTreeMap<String, String>,
}

impl FeedSource {
    /// The file or URL.
    pub fn path(&self) -> &Path {
        &self.location
    }
}

impl From<PathBuf> for FeedSource {
    fn from(location: PathBuf) -> Self {
        FeedSource {
            location,
            headers: BTreeMap::new(),
        }
    }
}

impl std::fmt::Debug for FeedSource {
    // Header values may be literal keys: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedSource")
            .field(
                "location",
                &storyforge_base::util::redact::redact_url(&self.location.to_string_lossy()),
            )
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Serialize for FeedSource {
    // The location only: header values are never written anywhere.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.location.serialize(s)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Full {
    url: PathBuf,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl<'de> Deserialize<'de> for FeedSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FeedSource;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a feed path or URL, or `{url, headers}`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FeedSource, E> {
                Ok(PathBuf::from(v).into())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FeedSource, A::Error> {
                let full = Full::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(FeedSource {
                    location: full.url,
                    headers: full.headers,
                })
            }
        }
        d.deserialize_any(V)
    }
}
