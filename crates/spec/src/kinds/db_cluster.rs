//! `db_cluster`: an Aurora database cluster and its `instances`.
//!
//! Owns the database cluster's definition: its wording, its fields (`engine`,
//! `engine_version`, `instance_class`, `instances`, `subnets`, `security_groups`,
//! `backup_retention_days`, `backup_window`, `deletion_protection`, `storage_encrypted`,
//! `master_username`, `parameters`), its count field, its expansion and its checks (subnets
//! and groups in one VPC, subnets in two zones at least). Invariants: `instance_class` and
//! `instances` are its scale fields; it expands into a `db_subnet_group` (its subnets), a
//! `db_cluster_parameter_group` when it sets `parameters` (of the engine's family), the
//! `db_cluster` (which uses both; without `parameters`, the engine family's default group)
//! and `instances` `db_instance`s (in the cluster), all named like the cluster; the password
//! is never in the spec (RDS generates and keeps it).

use std::collections::BTreeSet;

use super::{
    DefaultValue, Derived, ExpandedKind, FieldDef, KindDef, Naming, Presence, Shape, SpecKind,
    TextFormat,
};
use super::{address, security_group, subnet, vpc};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, copy, referenced};
use crate::model::{Address, ResourceKind, Value};
use crate::spec::{Configuration, Configured};

/// `aurora-postgresql` or `aurora-mysql`.
pub(crate) const ENGINE: &str = "engine";
/// The full engine version.
pub(crate) const ENGINE_VERSION: &str = "engine_version";
/// The RDS instance class of every instance (scale).
pub(crate) const INSTANCE_CLASS: &str = "instance_class";
/// How many instances: one writer and the replicas (scale).
pub(crate) const INSTANCES: &str = "instances";
/// The subnets of the cluster's subnet group, in two zones at least.
pub(crate) const SUBNETS: &str = "subnets";
/// The security groups of the cluster.
pub(crate) const SECURITY_GROUPS: &str = "security_groups";
/// How many days automated backups are kept.
pub(crate) const BACKUP_RETENTION_DAYS: &str = "backup_retention_days";
/// The daily backup window, in UTC.
pub(crate) const BACKUP_WINDOW: &str = "backup_window";
/// Whether RDS refuses to delete the cluster.
pub(crate) const DELETION_PROTECTION: &str = "deletion_protection";
/// Whether the storage is encrypted.
pub(crate) const STORAGE_ENCRYPTED: &str = "storage_encrypted";
/// The master user's name.
pub(crate) const MASTER_USERNAME: &str = "master_username";
/// Engine settings (`rds.force_ssl`, `ssl_min_protocol_version`): the cluster's own
/// parameter group.
pub(crate) const PARAMETERS: &str = "parameters";

/// The description of the expanded `db_subnet_group`.
pub(crate) const SUBNET_GROUP_DESCRIPTION: &str = "description";
/// The subnet group of the expanded `db_cluster`.
pub(crate) const SUBNET_GROUP: &str = "subnet_group";
/// The cluster of an expanded `db_instance`.
pub(crate) const CLUSTER: &str = "cluster";
/// The parameter group of the expanded `db_cluster`: its own, or the engine's default.
pub(crate) const PARAMETER_GROUP: &str = "parameter_group";
/// The engine family of the expanded `db_cluster_parameter_group` (`aurora-postgresql15`).
pub(crate) const FAMILY: &str = "family";

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::DbCluster,
    singular: "database cluster",
    plural: "database clusters",
    fields: &[
        FieldDef {
            name: ENGINE,
            shape: Shape::Text(TextFormat::Engine),
            presence: Presence::Required,
            scale: false,
            example: "engine = \"aurora-postgresql\"",
        },
        FieldDef {
            name: ENGINE_VERSION,
            shape: Shape::Text(TextFormat::EngineVersion),
            presence: Presence::Required,
            scale: false,
            example: "engine_version = \"15.4\"",
        },
        FieldDef {
            name: INSTANCE_CLASS,
            shape: Shape::Text(TextFormat::InstanceClass),
            presence: Presence::Required,
            scale: true,
            example: "instance_class = \"db.t3.medium\"",
        },
        FieldDef {
            name: INSTANCES,
            shape: Shape::Int {
                min: 1,
                max: 16,
                why: Some("an Aurora cluster has one writer and at most 15 replicas"),
            },
            presence: Presence::Default(DefaultValue::Int(1)),
            scale: true,
            example: "instances = 1",
        },
        FieldDef {
            name: SUBNETS,
            shape: Shape::RefList {
                kind: subnet::KIND,
                min_len: 2,
                ordered: false,
                why: Some(
                    "AWS requires a database's subnets to cover at least two availability zones",
                ),
            },
            presence: Presence::Required,
            scale: false,
            example: "subnets = [\"a\", \"b\"]",
        },
        FieldDef {
            name: SECURITY_GROUPS,
            shape: Shape::RefList {
                kind: security_group::KIND,
                min_len: 0,
                ordered: false,
                why: None,
            },
            presence: Presence::Default(DefaultValue::NoReferences),
            scale: false,
            example: "security_groups = [\"db\"]",
        },
        FieldDef {
            name: BACKUP_RETENTION_DAYS,
            shape: Shape::Int {
                min: 1,
                max: 35,
                why: Some("AWS keeps automated backups for 1 to 35 days"),
            },
            presence: Presence::Default(DefaultValue::Int(1)),
            scale: false,
            example: "backup_retention_days = 7",
        },
        FieldDef {
            name: BACKUP_WINDOW,
            shape: Shape::Text(TextFormat::Window),
            presence: Presence::Optional,
            scale: false,
            example: "backup_window = \"03:00-04:00\"",
        },
        FieldDef {
            name: DELETION_PROTECTION,
            shape: Shape::Bool,
            presence: Presence::Default(DefaultValue::Bool(false)),
            scale: false,
            example: "deletion_protection = true",
        },
        FieldDef {
            name: STORAGE_ENCRYPTED,
            shape: Shape::Bool,
            presence: Presence::Default(DefaultValue::Bool(false)),
            scale: false,
            example: "storage_encrypted = true",
        },
        FieldDef {
            name: MASTER_USERNAME,
            shape: Shape::Text(TextFormat::MasterUsername),
            presence: Presence::Required,
            scale: false,
            example: "master_username = \"app\"",
        },
        FieldDef {
            name: PARAMETERS,
            shape: Shape::Settings,
            presence: Presence::Optional,
            scale: false,
            example: "parameters = { \"rds.force_ssl\" = \"1\" }",
        },
    ],
    count_field: Some(INSTANCES),
    expands_to: &[
        ExpandedKind {
            derived: Some(Derived {
                plural: "DB subnet groups",
                hint: "set `subnets` on the `[db_cluster.NAME]`",
                whole: "a database",
            }),
            ..ExpandedKind::plain(ResourceKind::DbSubnetGroup)
        },
        ExpandedKind {
            derived: Some(Derived {
                plural: "DB cluster parameter groups",
                hint: "set `parameters` on the `[db_cluster.NAME]`",
                whole: "a database",
            }),
            ..ExpandedKind::plain(ResourceKind::DbClusterParameterGroup)
        },
        ExpandedKind {
            // The cluster's storage: envctl never replaces it as a side effect of another change.
            holds_data: true,
            ..ExpandedKind::plain(ResourceKind::DbCluster)
        },
        ExpandedKind {
            kind: ResourceKind::DbInstance,
            scale_fields: &[INSTANCE_CLASS],
            scale_dependent_fields: &[INSTANCE_CLASS],
            holds_data: false,
            counted: true,
            derived: Some(Derived {
                plural: "database instances",
                hint: "set `instances` and `instance_class` on the `[db_cluster.NAME]`",
                whole: "a database",
            }),
            naming: Naming::Dashed,
            templated_fields: &[],
        },
    ],
    expand,
    check: Some(check),
    check_all: None,
});

/// Its subnets and security groups are in one VPC, its subnets in two zones at least.
fn check(configuration: &Configuration<'_>, cluster: &Configured<'_>, out: &mut Vec<Diagnostic>) {
    vpc::check_one_vpc(configuration, cluster, SUBNETS, SECURITY_GROUPS, out);
    check_zones(configuration, cluster, out);
}

/// The cluster's subnet group, the cluster, and its `instances`.
fn expand(cluster: &Configured<'_>, out: &mut Expansion<'_>) {
    let name = cluster.name();
    let span = cluster.resource.span;
    let subnet_group = Address::new(ResourceKind::DbSubnetGroup, name);
    let cluster_address = Address::new(ResourceKind::DbCluster, name);

    let mut fields = Fields::new();
    copy(cluster, &[SUBNETS], &mut fields);
    fields.insert(
        SUBNET_GROUP_DESCRIPTION.to_string(),
        Value::Str(format!("subnets of {cluster_address}")),
    );
    let depends_on = referenced(cluster, SUBNETS);
    out.push(subnet_group.clone(), span, depends_on, fields);

    let mut fields = Fields::new();
    copy(
        cluster,
        &[
            ENGINE,
            ENGINE_VERSION,
            SECURITY_GROUPS,
            BACKUP_RETENTION_DAYS,
            BACKUP_WINDOW,
            DELETION_PROTECTION,
            STORAGE_ENCRYPTED,
            MASTER_USERNAME,
        ],
        &mut fields,
    );
    fields.insert(SUBNET_GROUP.to_string(), Value::Ref(subnet_group.clone()));
    let mut depends_on = referenced(cluster, SECURITY_GROUPS);
    depends_on.push(subnet_group);
    let family = family(
        cluster.text(ENGINE).unwrap_or_default(),
        cluster.text(ENGINE_VERSION).unwrap_or_default(),
    );
    match cluster.field(PARAMETERS) {
        Some(parameters) => {
            let group = Address::new(ResourceKind::DbClusterParameterGroup, name);
            let mut group_fields = Fields::new();
            group_fields.insert(FAMILY.to_string(), Value::Str(family));
            group_fields.insert(
                SUBNET_GROUP_DESCRIPTION.to_string(),
                Value::Str(format!("parameters of {cluster_address}")),
            );
            group_fields.insert(PARAMETERS.to_string(), parameters.value.to_value());
            out.push(group.clone(), span, Vec::new(), group_fields);
            fields.insert(PARAMETER_GROUP.to_string(), Value::Ref(group.clone()));
            depends_on.push(group);
        }
        // Without settings of its own, the engine's default group: a cluster whose settings
        // were removed from the spec goes back to it.
        None => {
            fields.insert(
                PARAMETER_GROUP.to_string(),
                Value::Str(format!("default.{family}")),
            );
        }
    }
    out.push(cluster_address.clone(), span, depends_on, fields);

    let count = u32::try_from(cluster.count()).unwrap_or(0);
    for index in 0..count {
        let mut fields = Fields::new();
        copy(cluster, &[ENGINE, INSTANCE_CLASS], &mut fields);
        fields.insert(CLUSTER.to_string(), Value::Ref(cluster_address.clone()));
        let address = Address::indexed(ResourceKind::DbInstance, name, index);
        out.push(address, span, vec![cluster_address.clone()], fields);
    }
}

/// The parameter group family of `engine` at `version`: `aurora-postgresql` and its major
/// version (`15.4` -> `aurora-postgresql15`), `aurora-mysql` and its first two parts
/// (`8.0.mysql_aurora.3.04.0` -> `aurora-mysql8.0`).
pub(crate) fn family(engine: &str, version: &str) -> String {
    let mut parts = version.split('.');
    let major = parts.next().unwrap_or_default();
    if engine == "aurora-mysql" {
        let minor = parts.next().unwrap_or("0");
        format!("{engine}{major}.{minor}")
    } else {
        format!("{engine}{major}")
    }
}

/// AWS requires a DB subnet group to cover at least two availability zones.
fn check_zones(
    configuration: &Configuration<'_>,
    cluster: &Configured<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let names = cluster.references(SUBNETS);
    let zones: Vec<&str> = names
        .iter()
        .filter_map(|n| configuration.get(subnet::KIND, &n.value))
        .filter_map(|s| s.text(subnet::ZONE))
        .collect();
    // Zones are compared by their letter: `b` (a suffix) and `us-east-1b` are one zone (a
    // full name outside the region is reported by the zone's own check).
    let distinct: BTreeSet<&str> = zones
        .iter()
        .map(|zone| zone.get(zone.len().saturating_sub(1)..).unwrap_or(zone))
        .collect();
    if names.len() >= 2
        && zones.len() == names.len()
        && distinct.len() < 2
        && let (Some(zone), Some(field)) = (zones.first(), cluster.field(SUBNETS))
    {
        out.push(
            Diagnostic::error(format!(
                "the subnets of `{}` are all in zone `{zone}`",
                address(cluster.kind(), cluster.name())
            ))
            .at(field.span, "AWS requires subnets in at least two zones")
            .with_hint("add a subnet in another availability zone"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::family;

    #[test]
    fn families_follow_the_engine_and_its_major_version() {
        assert_eq!(family("aurora-postgresql", "15.4"), "aurora-postgresql15");
        assert_eq!(family("aurora-postgresql", "16.1"), "aurora-postgresql16");
        assert_eq!(
            family("aurora-mysql", "8.0.mysql_aurora.3.04.0"),
            "aurora-mysql8.0"
        );
        assert_eq!(
            family("aurora-mysql", "5.7.mysql_aurora.2.11.2"),
            "aurora-mysql5.7"
        );
    }
}
