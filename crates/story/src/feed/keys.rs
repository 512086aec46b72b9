//! Which row of a feed is which, whatever its position: the job's `key:`
//! column, else the first of [`KEY_COLUMNS`] the feed has (RSS and Atom
//! items carry `link`, and their guid or id where the parser gives it),
//! else a hash of the row's values with one warning per feed. A key seen
//! twice is an error for the later row naming both; the other rows go on.
//! Kept apart from the parsers: it only reads the rows they give.

use std::collections::HashMap;

use serde::Serialize;

use super::FeedRow;

/// The columns that name a row when the job sets no `key:`, in order.
pub const KEY_COLUMNS: [&str; 6] = ["id", "guid", "sku", "slug", "link", "url"];

/// Which row of a feed a Story is drawn from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RowKey {
    /// No feed: the template's one Story.
    Once,
    /// A column's value (`key:` in the job, or `id`, `guid`, `sku`, …).
    Column {
        /// The column.
        name: String,
        /// Its value in this row.
        value: String,
    },
    /// The feed has no key column: a hash of the row's values (an edited
    /// row is then a new Story).
    Values(String),
}

impl RowKey {
    /// The stable form identities store: `once`, `sku=A1`, `values:HASH`.
    pub fn encode(&self) -> String {
        match self {
            RowKey::Once => "once".into(),
            RowKey::Column { name, value } => format!("{name}={value}"),
            RowKey::Values(h) => format!("values:{h}"),
        }
    }
}

impl std::fmt::Display for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RowKey::Once => f.write_str("once"),
            RowKey::Column { name, value } => write!(f, "{name} {value}"),
            RowKey::Values(h) => write!(f, "values #{}", &h[..h.len().min(8)]),
        }
    }
}

/// Every row's key (by row number), and the warning to show once.
#[derive(Debug, Clone, Default)]
pub struct RowKeys {
    keys: HashMap<usize, Result<RowKey, String>>,
    /// Set when rows are named by their values (no key column).
    pub warning: Option<String>,
    /// The column that names rows, when there is one.
    pub column: Option<String>,
}

impl RowKeys {
    /// The key of row `index`, or why it has none (an empty key, a duplicate).
    pub fn get(&self, index: usize) -> Result<RowKey, String> {
        self.keys.get(&index).cloned().unwrap_or_else(|| {
            Err(format!(
                "row {index} was not in the feed when its keys were read"
            ))
        })
    }
}

fn value<'a>(row: &'a FeedRow, column: &str) -> Option<&'a str> {
    row.vars
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(column))
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

fn values_hash(row: &FeedRow) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for (k, v) in &row.vars {
        h.update((k.len() as u64).to_le_bytes());
        h.update(k.as_bytes());
        h.update((v.len() as u64).to_le_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(&h.finalize()[..12])
}

/// The keys of `rows` (every row of the feed `shown`, in order), by the
/// job's `key:` column when given. Rows stream through: only each key and
/// where it was first seen are kept.
pub fn row_keys(
    shown: &str,
    rows: impl IntoIterator<Item = FeedRow>,
    job_key: Option<&str>,
) -> RowKeys {
    let mut out = RowKeys::default();
    let mut column: Option<Option<String>> = job_key.map(|k| Some(k.to_string()));
    let mut seen: HashMap<RowKey, String> = HashMap::new();
    for row in rows {
        // Without `key:`, the first row says which key column the feed has.
        let column = column
            .get_or_insert_with(|| {
                KEY_COLUMNS
                    .iter()
                    .find(|c| value(&row, c).is_some())
                    .map(|c| c.to_string())
            })
            .clone();
        if column.is_none() && out.warning.is_none() {
            out.warning = Some(format!(
                "{shown}: no key column ({}), so each row is named by its values and an edited row will be a new Story; add `key: COLUMN` to the job entry to name rows by a column",
                KEY_COLUMNS.join(", ")
            ));
        }
        out.column.clone_from(&column);
        let key = match &column {
            Some(c) => match value(&row, c) {
                Some(v) => Ok(RowKey::Column {
                    name: c.clone(),
                    value: v.to_string(),
                }),
                None if row.vars.keys().any(|k| k.eq_ignore_ascii_case(c)) => Err(format!(
                    "{shown} {}: the key column `{c}` is empty in this row; every row needs its own key",
                    row.describe()
                )),
                None => Err(format!(
                    "{shown} {}: the feed has no key column `{c}` in this row (set `key:` in the job to one of its columns)",
                    row.describe()
                )),
            },
            None => Ok(RowKey::Values(values_hash(&row))),
        };
        let key = key.and_then(|k| match seen.get(&k) {
            Some(first) => Err(format!(
                "{shown} {} has the same key ({k}) as {first}; keys must be unique: fix the feed, or set `key:` in the job to a column that is",
                row.describe(),
            )),
            None => {
                seen.insert(k.clone(), row.describe());
                Ok(k)
            }
        });
        out.keys.insert(row.index, key);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: usize, pairs: &[(&str, &str)]) -> FeedRow {
        FeedRow {
            index,
            line: Some(index as u64 + 1),
            vars: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn keys_come_from_a_column_never_the_position() {
        let rows = [
            row(1, &[("link", "https://b/3"), ("title", "c")]),
            row(2, &[("link", "https://b/2"), ("title", "b")]),
        ];
        let k = row_keys("f.xml", rows, None);
        assert_eq!(k.column.as_deref(), Some("link"));
        assert_eq!(
            k.get(2).expect("key"),
            RowKey::Column {
                name: "link".into(),
                value: "https://b/2".into()
            }
        );
        assert!(k.warning.is_none());
        // No key column: the values, with a warning.
        let plain = [row(1, &[("title", "a")])];
        let k = row_keys("f.csv", plain, None);
        assert!(matches!(k.get(1), Ok(RowKey::Values(_))));
        assert!(k.warning.expect("warning").contains("key: COLUMN"));
    }

    #[test]
    fn a_duplicate_key_names_both_rows() {
        let rows = [
            row(1, &[("sku", "A1")]),
            row(2, &[("sku", "B2")]),
            row(3, &[("sku", "A1")]),
        ];
        let k = row_keys("p.csv", rows, Some("sku"));
        assert!(k.get(1).is_ok() && k.get(2).is_ok());
        let e = k.get(3).expect_err("duplicate");
        assert!(
            e.contains("p.csv row 3 (line 4)") && e.contains("row 1 (line 2)"),
            "{e}"
        );
    }
}
