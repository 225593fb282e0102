//! `alarm`: a CloudWatch metric alarm on each member of what it follows (`for =
//! "instance.app"`: one per instance; `for = "db_cluster.main"`: one for the cluster).
//!
//! Owns the alarm's definition: its wording, its fields (`for`, `metric`, `statistic`,
//! `comparison`, `threshold`, `period`, `evaluation_periods`, `actions`), its check (a period
//! CloudWatch accepts, actions that are SNS topic ARNs) and its expansion. Invariants: an
//! alarm has no scale fields (a different threshold per environment is a declared
//! difference), but how many it expands into follows the count of what it watches: an alarm
//! on `instance.app` becomes `alarm.NAME[0]`..`[count-1]`, each with the one `instance` it
//! watches (that reference is scale-dependent, so parity ignores it); an alarm on a cluster
//! becomes one `alarm.NAME` with its `db_cluster`. The namespace follows from the kind watched
//! (`AWS/EC2`, `AWS/RDS`); actions may use `${project}`, `${environment}` and `${region}`.

use super::{
    DefaultValue, ExpandedKind, FieldDef, FieldValue, KindDef, Presence, Shape, SpecKind,
    TextFormat, address, db_cluster, instance,
};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of, copy};
use crate::model::{Address, ResourceKind, Value};
use crate::spec::{Configuration, Configured};

/// What the alarm watches, by address (spec only: expansion writes `instance` or
/// `db_cluster`).
pub(crate) const FOR: &str = "for";
/// The metric's name (`CPUUtilization`).
pub(crate) const METRIC: &str = "metric";
/// How data points are aggregated over a period.
pub(crate) const STATISTIC: &str = "statistic";
/// How the statistic is compared with the threshold: `>`, `>=`, `<`, `<=`.
pub(crate) const COMPARISON: &str = "comparison";
/// The value the statistic is compared with.
pub(crate) const THRESHOLD: &str = "threshold";
/// The length of one period, in seconds.
pub(crate) const PERIOD: &str = "period";
/// How many periods the condition must hold.
pub(crate) const EVALUATION_PERIODS: &str = "evaluation_periods";
/// What is notified when the alarm fires: SNS topic ARNs.
pub(crate) const ACTIONS: &str = "actions";
/// The expanded alarm's metric namespace (`AWS/EC2`, `AWS/RDS`).
pub(crate) const NAMESPACE: &str = "namespace";
/// The instance one expanded alarm watches.
pub(crate) const INSTANCE: &str = "instance";
/// The cluster one expanded alarm watches.
pub(crate) const DB_CLUSTER: &str = "db_cluster";

/// The statistics CloudWatch aggregates a metric with.
pub(crate) const STATISTICS: &[&str] = &["Average", "Maximum", "Minimum", "Sum", "SampleCount"];
/// One day: CloudWatch evaluates at most this many seconds of periods at once.
const ONE_DAY: i64 = 86_400;

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::Alarm,
    singular: "alarm",
    plural: "alarms",
    fields: &[
        FieldDef {
            name: FOR,
            shape: Shape::Member {
                kinds: &[instance::KIND, db_cluster::KIND],
            },
            presence: Presence::Required,
            scale: false,
            example: "for = \"instance.app\"",
        },
        FieldDef {
            name: METRIC,
            shape: Shape::Text(TextFormat::MetricName),
            presence: Presence::Required,
            scale: false,
            example: "metric = \"CPUUtilization\"",
        },
        FieldDef {
            name: STATISTIC,
            shape: Shape::Choice {
                values: STATISTICS,
                why: "the statistics CloudWatch computes",
            },
            presence: Presence::Required,
            scale: false,
            example: "statistic = \"Average\"",
        },
        FieldDef {
            name: COMPARISON,
            shape: Shape::Choice {
                values: &[">", ">=", "<", "<="],
                why: "how the statistic is compared with the threshold",
            },
            presence: Presence::Required,
            scale: false,
            example: "comparison = \">\"",
        },
        FieldDef {
            name: THRESHOLD,
            shape: Shape::Number {
                min: -1e15,
                max: 1e15,
            },
            presence: Presence::Required,
            scale: false,
            example: "threshold = 80",
        },
        FieldDef {
            name: PERIOD,
            shape: Shape::Int {
                min: 10,
                max: ONE_DAY,
                why: Some("seconds; 10, 30 or a multiple of 60"),
            },
            presence: Presence::Default(DefaultValue::Int(300)),
            scale: false,
            example: "period = 300",
        },
        FieldDef {
            name: EVALUATION_PERIODS,
            shape: Shape::Int {
                min: 1,
                max: 1440,
                why: None,
            },
            presence: Presence::Default(DefaultValue::Int(1)),
            scale: false,
            example: "evaluation_periods = 2",
        },
        FieldDef {
            name: ACTIONS,
            shape: Shape::TemplateList { separator: ',' },
            presence: Presence::Optional,
            scale: false,
            example: "actions = [\"arn:aws:sns:us-east-1:123456789012:${environment}-oncall\"]",
        },
    ],
    count_field: None,
    expands_to: &[ExpandedKind {
        scale_dependent_fields: &[INSTANCE],
        templated_fields: &[ACTIONS],
        ..ExpandedKind::plain(ResourceKind::Alarm)
    }],
    expand,
    check: Some(check),
    check_all: None,
});

/// A period CloudWatch accepts, periods that fit in a day, and SNS topic ARNs as actions.
fn check(_configuration: &Configuration<'_>, alarm: &Configured<'_>, out: &mut Vec<Diagnostic>) {
    let owner = address(KIND, alarm.name());
    let period = alarm.int(PERIOD);
    if let (Some(period), Some(field)) = (period, alarm.field(PERIOD)) {
        if !(period == 10 || period == 30 || period % 60 == 0) {
            let up = (period + 59) / 60 * 60;
            out.push(
                Diagnostic::error(format!(
                    "`period` of `{owner}` is not one CloudWatch accepts"
                ))
                .at(field.span, format!("{period} seconds"))
                .with_hint(format!(
                    "a period is 10, 30 or a multiple of 60 seconds, such as {up}"
                )),
            );
        } else if let (Some(times), Some(at)) = (
            alarm.int(EVALUATION_PERIODS),
            alarm.field(EVALUATION_PERIODS),
        ) && period >= 60
            && period.saturating_mul(times) > ONE_DAY
        {
            out.push(
                Diagnostic::error(format!(
                    "`{owner}` evaluates more than a day of data at once"
                ))
                .at(at.span, format!("{times} periods of {period} seconds"))
                .with_hint(format!(
                    "CloudWatch evaluates at most one day: at most {} periods of {period} \
                     seconds",
                    ONE_DAY / period
                )),
            );
        }
    }
    if let Some(FieldValue::TextList(actions)) = alarm.field(ACTIONS).map(|f| &f.value) {
        let span = alarm.field(ACTIONS).map(|f| f.span);
        for action in actions {
            let parts: Vec<&str> = action.split(':').collect();
            let topic = parts.len() == 6
                && parts[0] == "arn"
                && parts[1].starts_with("aws")
                && parts[2] == "sns"
                && parts.iter().all(|part| !part.is_empty());
            if !topic {
                let mut diagnostic =
                    Diagnostic::error(format!("an action of `{owner}` is not an SNS topic ARN"))
                        .with_hint(
                            "write the topic's ARN, `arn:aws:sns:REGION:ACCOUNT:TOPIC`; it may use \
                     `${environment}`",
                        );
                if let Some(span) = span {
                    diagnostic = diagnostic.at(span, format!("`{action}`"));
                }
                out.push(diagnostic);
            }
        }
    }
}

/// One alarm per member of what it follows, each naming the member it watches.
fn expand(alarm: &Configured<'_>, out: &mut Expansion<'_>) {
    let Some(FieldValue::Ref { kind, name, .. }) = alarm.field(FOR).map(|f| &f.value) else {
        return;
    };
    let placeholders = out.placeholders();
    let mut fields = Fields::new();
    copy(
        alarm,
        &[
            METRIC,
            STATISTIC,
            COMPARISON,
            THRESHOLD,
            PERIOD,
            EVALUATION_PERIODS,
        ],
        &mut fields,
    );
    if let Some(FieldValue::TextList(actions)) = alarm.field(ACTIONS).map(|f| &f.value) {
        fields.insert(
            ACTIONS.into(),
            Value::set(
                actions
                    .iter()
                    .map(|action| Value::Str(placeholders.substitute(action))),
            ),
        );
    }
    let target = kind.resource_kind();
    let (namespace, field) = match target {
        ResourceKind::DbCluster => ("AWS/RDS", DB_CLUSTER),
        _ => ("AWS/EC2", INSTANCE),
    };
    fields.insert(NAMESPACE.into(), Value::Str(namespace.into()));
    let watched: Vec<(Address, Address)> = if *kind == instance::KIND {
        (0..out.count_of(*kind, &name.value))
            .map(|index| {
                (
                    Address::indexed(ResourceKind::Alarm, alarm.name(), index),
                    Address::indexed(target, &name.value, index),
                )
            })
            .collect()
    } else {
        vec![(
            address_of(KIND, alarm.name()),
            address_of(*kind, &name.value),
        )]
    };
    for (own, member) in watched {
        let mut fields = fields.clone();
        fields.insert(field.into(), Value::Ref(member.clone()));
        out.push(own, alarm.resource.span, vec![member], fields);
    }
}
