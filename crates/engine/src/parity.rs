//! Parity: do two live environments differ in anything but scale and declared differences?
//!
//! Owns [`ParityReport`] and [`compare_environments`]. Invariants: resources are compared by
//! their spec resource (`instance.app`, not `instance.app[2]`): the values of a counted set
//! are compared as the set of distinct values its members have, so three production instances
//! and one staging instance on the same image are at parity; names, ids and scale-dependent
//! fields never count; a field declared as an intentional difference is reported with
//! `declared: true` and does not break parity; a resource present in one environment only is
//! a difference, except members of counted sets (their number is scale); the fields the spec
//! templates (`${environment}`) are compared with each environment's name written back, so
//! `staging-jaeger:6831` and `production-jaeger:6831` are the same value; and where each
//! environment lives is masked in every text value (its account id as `${account}`, its
//! region as `${region}`: ARNs, zones, dashboard bodies), so environments in two accounts and
//! regions are at parity when nothing else differs.

use std::collections::{BTreeMap, BTreeSet};

use envctl_spec::template::{Placeholders, unsubstitute};
use envctl_spec::{ResourceKind, Value};
use serde::{Deserialize, Serialize};

use crate::live::LiveState;

/// One way two environments differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityDifference {
    /// The spec resource (`db_cluster.main`, `instance.app`).
    pub address: String,
    /// The field, or `exists` for a resource present in one environment only.
    pub field: String,
    pub from_value: Option<Value>,
    pub to_value: Option<Value>,
    /// Declared in the spec's `[[differences]]`: intentional, does not break parity.
    pub declared: bool,
}

/// How environment `to` differs from environment `from`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParityReport {
    pub from: String,
    pub to: String,
    pub differences: Vec<ParityDifference>,
    /// The probe readings (either side) that could not be had, so their documents could not
    /// be compared: parity is unknown there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<crate::probe::ProbeReading>,
}

impl ParityReport {
    /// Differences nobody declared.
    pub fn undeclared(&self) -> impl Iterator<Item = &ParityDifference> {
        self.differences.iter().filter(|d| !d.declared)
    }

    /// True when the only differences are declared ones and every probe could be read.
    pub fn at_parity(&self) -> bool {
        self.undeclared().next().is_none() && self.unreadable.is_empty()
    }
}

/// `value` with the environment's name written back as `${environment}` (in text and in the
/// text items of a list).
fn unsubstituted(value: &Value, placeholders: &Placeholders<'_>) -> Value {
    match value {
        Value::Str(text) => Value::Str(unsubstitute(text, placeholders)),
        Value::List(items) => Value::List(
            items
                .iter()
                .map(|item| unsubstituted(item, placeholders))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// `value` with where the environment lives masked: its account id as `${account}` and its
/// region as `${region}` (in ARNs, zones, dashboard bodies), so that environments in two
/// accounts and regions compare equal when only that differs.
fn masked(value: &Value, state: &LiveState) -> Value {
    match value {
        Value::Str(text) => {
            let mut text = text.clone();
            if let Some(account) = state.account.as_deref().filter(|a| !a.is_empty()) {
                text = text.replace(account, "${account}");
            }
            if let Some(region) = state.region.as_deref().filter(|r| !r.is_empty()) {
                text = text.replace(region, "${region}");
            }
            Value::Str(text)
        }
        Value::List(items) => Value::List(items.iter().map(|item| masked(item, state)).collect()),
        other => other.clone(),
    }
}

/// Values by field of every spec resource of environment `name`, counted sets folded into
/// sets of distinct values, templated fields with their substitutions written back.
fn fold(
    name: &str,
    state: &LiveState,
) -> BTreeMap<String, (ResourceKind, BTreeMap<String, BTreeSet<Value>>)> {
    let placeholders = Placeholders {
        project: "",
        environment: name,
        region: "",
    };
    let mut folded: BTreeMap<String, (ResourceKind, BTreeMap<String, BTreeSet<Value>>)> =
        BTreeMap::new();
    for resource in &state.resources {
        let key = format!("{}.{}", resource.kind, resource.address.name);
        let entry = folded
            .entry(key)
            .or_insert_with(|| (resource.kind, BTreeMap::new()));
        for (field, value) in &resource.fields {
            if resource
                .kind
                .scale_dependent_fields()
                .contains(&field.as_str())
            {
                continue;
            }
            let value = if resource.kind.templated_fields().contains(&field.as_str()) {
                unsubstituted(value, &placeholders)
            } else {
                value.clone()
            };
            let value = masked(&value, state);
            entry.1.entry(field.clone()).or_default().insert(value);
        }
    }
    folded
}

fn as_value(values: &BTreeSet<Value>) -> Value {
    match values.len() {
        1 => values
            .iter()
            .next()
            .cloned()
            .unwrap_or(Value::List(Vec::new())),
        _ => Value::List(values.iter().cloned().collect()),
    }
}

/// Compares two environments' live states; `declared` lists the `(resource, field)` pairs of
/// the spec's declared differences.
pub fn compare_environments(
    from_name: &str,
    from: &LiveState,
    to_name: &str,
    to: &LiveState,
    declared: &BTreeSet<(String, String)>,
) -> ParityReport {
    let from_folded = fold(from_name, from);
    let to_folded = fold(to_name, to);
    let mut differences = Vec::new();
    let addresses: BTreeSet<&String> = from_folded.keys().chain(to_folded.keys()).collect();
    for address in addresses {
        match (from_folded.get(address), to_folded.get(address)) {
            (Some((_, from_fields)), Some((_, to_fields))) => {
                let fields: BTreeSet<&String> =
                    from_fields.keys().chain(to_fields.keys()).collect();
                for field in fields {
                    let from_value = from_fields.get(field);
                    let to_value = to_fields.get(field);
                    if from_value == to_value {
                        continue;
                    }
                    differences.push(ParityDifference {
                        address: address.clone(),
                        field: field.clone(),
                        from_value: from_value.map(as_value),
                        to_value: to_value.map(as_value),
                        declared: declared.contains(&(address.clone(), field.clone())),
                    });
                }
            }
            (Some((kind, _)), None) | (None, Some((kind, _))) => {
                if kind.is_counted() {
                    continue;
                }
                let in_from = from_folded.contains_key(address);
                differences.push(ParityDifference {
                    address: address.clone(),
                    field: "exists".to_string(),
                    from_value: Some(Value::Bool(in_from)),
                    to_value: Some(Value::Bool(!in_from)),
                    declared: false,
                });
            }
            (None, None) => {}
        }
    }
    ParityReport {
        from: from_name.to_string(),
        to: to_name.to_string(),
        differences,
        unreadable: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::LiveResource;

    fn state(account: &str, region: &str, zone: &str, actions: &str) -> LiveState {
        let resource = |address: &str, kind, field: &str, value: &str| LiveResource {
            outputs: Default::default(),
            address: address.parse().expect("address"),
            kind,
            id: format!("id-{address}"),
            tags: BTreeMap::new(),
            depends_on: Vec::new(),
            fields: [(field.to_string(), Value::Str(value.to_string()))]
                .into_iter()
                .collect(),
        };
        LiveState {
            resources: vec![
                resource("subnet.a", ResourceKind::Subnet, "zone", zone),
                resource("alarm.db-cpu", ResourceKind::Alarm, "actions", actions),
            ],
            account: Some(account.to_string()),
            region: Some(region.to_string()),
            ..LiveState::default()
        }
    }

    #[test]
    fn where_an_environment_lives_is_masked_and_nothing_else() {
        let staging = state(
            "111111111111",
            "us-west-2",
            "us-west-2a",
            "arn:aws:sns:us-west-2:111111111111:oncall",
        );
        let production = state(
            "222222222222",
            "us-east-1",
            "us-east-1a",
            "arn:aws:sns:us-east-1:222222222222:oncall",
        );
        let report = compare_environments(
            "staging",
            &staging,
            "production",
            &production,
            &BTreeSet::new(),
        );
        assert!(report.at_parity(), "{:?}", report.differences);

        // Another zone letter, or a topic in a third account, is a difference.
        let elsewhere = state(
            "222222222222",
            "us-east-1",
            "us-east-1b",
            "arn:aws:sns:us-east-1:333333333333:oncall",
        );
        let report = compare_environments(
            "staging",
            &staging,
            "production",
            &elsewhere,
            &BTreeSet::new(),
        );
        let fields: Vec<&str> = report.undeclared().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["actions", "zone"], "{:?}", report.differences);
    }
}
