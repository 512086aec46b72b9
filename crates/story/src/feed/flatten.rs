//! A JSON or YAML object → one row of text columns. Nested objects become
//! dotted columns (`fields.Name`, `current.temp_c`), a list of scalars one
//! value joined with ", " (`tags` → `vegan, local`), a list holding
//! objects one column per element (`fields.Photo.0.url`); `null` is no
//! column at all.

use serde_json::{Map, Value};

use crate::template::Variables;

/// Deepest nesting flattened; deeper values stay JSON text.
const MAX_DEPTH: usize = 16;

/// The columns of one object.
pub(super) fn flatten(map: Map<String, Value>) -> Variables {
    let mut out = Variables::new();
    for (k, v) in map {
        put(&mut out, k, v, 0);
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn put(out: &mut Variables, key: String, v: Value, depth: usize) {
    if let Some(text) = scalar(&v) {
        out.insert(key, text);
        return;
    }
    if depth >= MAX_DEPTH {
        out.insert(key, v.to_string());
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                put(out, format!("{key}.{k}"), v, depth + 1);
            }
        }
        Value::Array(items) if items.iter().all(|i| i.is_null() || scalar(i).is_some()) => {
            let joined: Vec<String> = items.iter().filter_map(scalar).collect();
            out.insert(key, joined.join(", "));
        }
        Value::Array(items) => {
            for (i, v) in items.into_iter().enumerate() {
                put(out, format!("{key}.{i}"), v, depth + 1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_become_dotted_columns() {
        let v = serde_json::json!({
            "id": "rec1",
            "fields": {"Name": "Latte", "Price": 3.5, "Tags": ["hot", "milk"], "Photo": [{"url": "https://x/p.jpg"}], "Gone": null},
            "current": {"temp_c": 21, "condition": {"text": "Sunny"}},
            "empty": []
        });
        let Value::Object(m) = v else { unreachable!() };
        let row = flatten(m);
        assert_eq!(row["fields.Name"], "Latte");
        assert_eq!(row["fields.Price"], "3.5");
        assert_eq!(row["fields.Tags"], "hot, milk");
        assert_eq!(row["fields.Photo.0.url"], "https://x/p.jpg");
        assert_eq!(row["current.temp_c"], "21");
        assert_eq!(row["current.condition.text"], "Sunny");
        assert_eq!(row["empty"], "");
        assert!(!row.contains_key("fields.Gone"));
        assert!(!row.contains_key("fields"));
    }
}
