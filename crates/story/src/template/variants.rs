//! `variants:` in a template: named versions of it to compare (a colour, a
//! headline wording, the logo's position), each
//! `{name, variables: {…}, layers: {LAYER: {property: value}}}`.
//!
//! A variant is the template's own YAML with its variables merged in and
//! the named properties of the named layers replaced (`box.y` reaches into
//! a layer's box), checked like any template, so a wrong layer or property
//! is an error naming the template file and the variant when it loads,
//! never a surprise at render time. Which variant a Story gets is the
//! job's choice ([`pick`]): deterministic and even, alternating.

use std::collections::BTreeMap;
use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use super::schema::Scalar;
use super::{check, Problem, SourcePos, Template, TemplateError};
use crate::fonts::FontBook;

/// One variant as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawVariant {
    /// Its name, shown in reports (`A`, `red-price`).
    pub name: String,
    /// Variables set for this variant (over the template's defaults; feed
    /// rows still override them).
    #[serde(default)]
    pub variables: BTreeMap<String, Scalar>,
    /// Layer (by `name`) → property → value, e.g.
    /// `{headline: {color: "#c8553d"}, logo: {box.y: 1500}}`.
    #[serde(default)]
    #[schemars(with = "BTreeMap<String, BTreeMap<String, serde_json::Value>>")]
    pub layers: BTreeMap<String, BTreeMap<String, Value>>,
}

/// A checked variant: its name and the template it makes.
#[derive(Clone)]
pub struct Variant {
    /// Its name.
    pub name: String,
    /// The template with the variant applied.
    pub template: Template,
}

fn invalid(path: &Path, message: String) -> TemplateError {
    TemplateError::Invalid {
        path: path.display().to_string(),
        pos: SourcePos::default(),
        problem: Problem::Schema,
        message,
    }
}

/// The variants `text` declares, each checked as a whole template; none
/// when it declares none.
pub fn expand(
    text: &str,
    raw: &[RawVariant],
    path: &Path,
    fonts: &FontBook,
) -> Result<Vec<Variant>, TemplateError> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let doc: Value = serde_saphyr::from_str(text)
        .map_err(|e| invalid(path, format!("variants: cannot read the template: {e}")))?;
    let mut out: Vec<Variant> = Vec::with_capacity(raw.len());
    for v in raw {
        let name = v.name.trim();
        if name.is_empty() {
            return Err(invalid(
                path,
                "variants: every variant needs a `name`".into(),
            ));
        }
        if out.iter().any(|o| o.name == name) {
            return Err(invalid(
                path,
                format!("variants: the name `{name}` is used twice; give each variant its own"),
            ));
        }
        let doc = apply(&doc, v).map_err(|m| invalid(path, format!("variant `{name}`: {m}")))?;
        let json = serde_json::to_string(&doc)
            .map_err(|e| invalid(path, format!("variant `{name}`: {e}")))?;
        let template = check::parse(&json, path, fonts).map_err(|e| {
            let message = match e {
                TemplateError::Invalid { message, .. } => message,
                other => other.to_string(),
            };
            invalid(path, format!("variant `{name}`: {message}"))
        })?;
        out.push(Variant {
            name: name.to_string(),
            template,
        });
    }
    Ok(out)
}

/// The template document with `v` applied (and no `variants` left).
fn apply(doc: &Value, v: &RawVariant) -> Result<Value, String> {
    let mut doc = doc.clone();
    let Value::Object(top) = &mut doc else {
        return Err("the template is not a mapping".into());
    };
    top.remove("variants");
    if !v.variables.is_empty() {
        let vars = top
            .entry("variables")
            .or_insert_with(|| Value::Object(Default::default()));
        let Value::Object(vars) = vars else {
            return Err("`variables` is not a mapping".into());
        };
        for (k, val) in &v.variables {
            vars.insert(k.clone(), Value::String(val.to_string()));
        }
    }
    let layers = top.get_mut("layers").and_then(Value::as_array_mut);
    let mut layers: Vec<&mut Value> = layers.into_iter().flatten().collect();
    let names: Vec<String> = layers.iter().filter_map(|l| layer_name(l)).collect();
    for (layer, props) in &v.layers {
        let Some(body) = layers
            .iter_mut()
            .find(|l| layer_name(l).as_deref() == Some(layer.as_str()))
            .and_then(|l| l.as_object_mut())
            .and_then(|m| m.values_mut().next())
            .and_then(Value::as_object_mut)
        else {
            return Err(format!(
                "no layer named `{layer}` (layers: {})",
                names.join(", ")
            ));
        };
        for (prop, value) in props {
            set(body, prop, value.clone()).map_err(|m| format!("layer `{layer}`: {m}"))?;
        }
    }
    Ok(doc)
}

/// The `name` of a layer entry (`{text: {name: …}}`).
fn layer_name(l: &Value) -> Option<String> {
    l.as_object()?
        .values()
        .next()?
        .get("name")?
        .as_str()
        .map(str::to_string)
}

/// Sets `prop` (`color`, or `box.y` into a nested mapping) to `value`.
fn set(body: &mut serde_json::Map<String, Value>, prop: &str, value: Value) -> Result<(), String> {
    match prop.split_once('.') {
        None => {
            body.insert(prop.to_string(), value);
            Ok(())
        }
        Some((head, rest)) => match body.get_mut(head) {
            Some(Value::Object(inner)) => set(inner, rest, value),
            _ => Err(format!("`{head}` is not set as a mapping, so `{prop}` cannot be changed; set `{head}` whole")),
        },
    }
}

/// The variant a new Story gets: alternating over the template's variants,
/// counting on from `published` (Stories of this template and account that
/// already carry a variant) by the Story's position `order` in its batch.
pub fn pick(count: usize, published: u64, order: u64) -> usize {
    if count == 0 {
        return 0;
    }
    ((published + order) % count as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternation_is_even_and_continues_across_runs() {
        let first: Vec<usize> = (0..4).map(|i| pick(2, 0, i)).collect();
        assert_eq!(first, [0, 1, 0, 1]);
        let next: Vec<usize> = (0..3).map(|i| pick(3, 4, i)).collect();
        assert_eq!(next, [1, 2, 0]);
    }
}
