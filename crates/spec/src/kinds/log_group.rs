//! `log_group`: a CloudWatch Logs group `/{project}/{environment}/{name}`.
//!
//! Owns the log group's definition: its wording, its fields (`retention_days`, `kms_key`) and
//! its expansion. Invariants: a log group is never counted, has no scale fields (how long logs
//! are kept is configuration: a shorter retention in one environment is a declared
//! difference) and expands into exactly one `log_group` resource named by path, so the
//! provider lists an environment's groups by one name prefix.

use super::{ExpandedKind, FieldDef, KindDef, Naming, Presence, Shape, SpecKind, TextFormat};
use crate::expand::{Expansion, Fields, address_of, copy};
use crate::model::ResourceKind;
use crate::spec::Configured;

/// How many days CloudWatch Logs keeps the group's events.
pub(crate) const RETENTION_DAYS: &str = "retention_days";
/// The KMS key the group's events are encrypted with, by ARN.
pub(crate) const KMS_KEY: &str = "kms_key";

/// The retention periods CloudWatch Logs accepts (`PutRetentionPolicy`).
pub(crate) const RETENTION_VALUES: &[i64] = &[
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::LogGroup,
    singular: "log group",
    plural: "log groups",
    fields: &[
        FieldDef {
            name: RETENTION_DAYS,
            shape: Shape::IntChoice {
                values: RETENTION_VALUES,
                why: "CloudWatch Logs keeps events for one of these numbers of days",
            },
            presence: Presence::Required,
            scale: false,
            example: "retention_days = 30",
        },
        FieldDef {
            name: KMS_KEY,
            shape: Shape::Text(TextFormat::KmsKeyArn),
            presence: Presence::Optional,
            scale: false,
            example: "kms_key = \"arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab\"",
        },
    ],
    count_field: None,
    expands_to: &[ExpandedKind {
        naming: Naming::Path,
        ..ExpandedKind::plain(ResourceKind::LogGroup)
    }],
    expand,
    check: None,
    check_all: None,
});

/// One `log_group`, with its retention and key.
fn expand(group: &Configured<'_>, out: &mut Expansion<'_>) {
    let mut fields = Fields::new();
    copy(group, &[RETENTION_DAYS, KMS_KEY], &mut fields);
    out.push(
        address_of(KIND, group.name()),
        group.resource.span,
        Vec::new(),
        fields,
    );
}
