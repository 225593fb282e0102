//! The parity digest ignores exactly scale and declared differences: random scale (and
//! random values of the declared difference) keep it equal; any random non-scale edit changes
//! it.

use envctl_spec::{CivilDate, SourceFile, Spec, check};
use proptest::prelude::*;

const TODAY: CivilDate = CivilDate {
    year: 2026,
    month: 6,
    day: 1,
};

/// The shipped example's dashboard body.
const DASHBOARD: &str = include_str!("../../../environments/dashboards/main.json");

/// The scale of one environment (or of the base spec).
#[derive(Debug, Clone)]
struct Scale {
    instance_type: &'static str,
    count: u8,
    volume_size: Option<u16>,
    instance_class: &'static str,
    instances: u8,
}

impl Scale {
    fn webapp_base() -> Scale {
        Scale {
            instance_type: "t3.medium",
            count: 2,
            volume_size: None,
            instance_class: "db.t3.medium",
            instances: 1,
        }
    }

    fn instance_fields(&self) -> String {
        let volume = self
            .volume_size
            .map(|v| format!(", volume_size = {v}"))
            .unwrap_or_default();
        format!(
            "instance_type = \"{}\", count = {}{volume}",
            self.instance_type, self.count
        )
    }
}

/// Every knob of a webapp-shaped spec; [`Knobs::webapp`] gives the shipped example's values.
#[derive(Debug, Clone)]
struct Knobs {
    base: Scale,
    staging: Scale,
    production: Scale,
    retention: [u8; 3],
    team: String,
    cidr_second_octet: u8,
    zone_b: char,
    description: String,
    https_port: u16,
    ami: String,
    monitoring: bool,
    engine_version_minor: u8,
    backup_hour: u8,
    deletion_protection: bool,
    master_username: String,
    db_subnets: &'static str,
    instance_subnets: &'static str,
    force_ssl: bool,
    log_retention: u16,
    log_level: String,
    trace_endpoint: String,
    /// The app CPU alarm's threshold, as written (`80`, `80.5`).
    cpu_threshold: String,
    /// The dashboard body file's text.
    dashboard: String,
}

impl Knobs {
    fn webapp() -> Knobs {
        Knobs {
            base: Scale::webapp_base(),
            staging: Scale {
                count: 1,
                ..Scale::webapp_base()
            },
            production: Scale {
                instance_type: "t3.xlarge",
                count: 3,
                volume_size: None,
                instance_class: "db.r6g.2xlarge",
                instances: 2,
            },
            retention: [7, 7, 30],
            team: "platform".into(),
            cidr_second_octet: 0,
            zone_b: 'b',
            description: "app servers".into(),
            https_port: 443,
            ami: "ami-0c55b159cbfafe1f0".into(),
            monitoring: true,
            engine_version_minor: 4,
            backup_hour: 3,
            deletion_protection: true,
            master_username: "app".into(),
            db_subnets: "[\"a\", \"b\"]",
            instance_subnets: "[\"a\", \"b\"]",
            force_ssl: true,
            log_retention: 30,
            log_level: "INFO".into(),
            trace_endpoint: "${environment}-jaeger:6831".into(),
            cpu_threshold: "80".into(),
            dashboard: DASHBOARD.into(),
        }
    }

    fn text(&self) -> String {
        let net = self.cidr_second_octet;
        format!(
            r#"[project]
name = "webapp"
region = "us-east-1"
tags = {{ team = "{team}", cost-center = "cc-42" }}

[environments.staging]
instance.app = {{ {staging_instance} }}
db_cluster.main = {{ instance_class = "{staging_class}", instances = {staging_instances} }}

[environments.production]
protected = true
promote_from = "staging"
instance.app = {{ {production_instance} }}
db_cluster.main = {{ instance_class = "{production_class}", instances = {production_instances} }}

[[differences]]
resource = "db_cluster.main"
field = "backup_retention_days"
values = {{ staging = {staging_retention}, production = {production_retention} }}
reason = "Compliance requires 30 days of backups in production"
risk = "Restores older than 7 days are exercised only in production"
owner = "platform-team"
expires = 2027-06-30

[vpc.main]
cidr = "10.{net}.0.0/16"

[subnet.a]
vpc = "main"
cidr = "10.{net}.1.0/24"
zone = "us-east-1a"

[subnet.b]
vpc = "main"
cidr = "10.{net}.2.0/24"
zone = "us-east-1{zone_b}"

[security_group.app]
vpc = "main"
description = "{description}"
ingress = [{{ protocol = "tcp", ports = "{port}", cidr = "10.0.0.0/8" }}]

[security_group.db]
vpc = "main"
description = "database"
ingress = [{{ protocol = "tcp", ports = "5432", from_group = "app" }}]

[instance.app]
ami = "{ami}"
{base_instance}
subnets = {instance_subnets}
security_groups = ["app"]
monitoring = {monitoring}

[db_cluster.main]
engine = "aurora-postgresql"
engine_version = "15.{minor}"
instance_class = "{base_class}"
instances = {base_instances}
subnets = {db_subnets}
security_groups = ["db"]
backup_retention_days = {base_retention}
backup_window = "0{hour}:00-0{next_hour}:00"
deletion_protection = {deletion_protection}
storage_encrypted = true
master_username = "{master}"
parameters = {{ "rds.force_ssl" = "{force_ssl}", "ssl_min_protocol_version" = "TLSv1.2" }}

[log_group.app]
retention_days = {log_retention}

[parameter.log-level]
value = "{log_level}"

[parameter.log-format]
value = "json"

[parameter.scrape-interval]
value = "15s"

[parameter.trace-sample-rate]
value = "0.1"

[parameter.trace-endpoint]
value = "{trace_endpoint}"

[alarm.app-cpu]
for = "instance.app"
metric = "CPUUtilization"
statistic = "Average"
comparison = ">"
threshold = {cpu_threshold}
period = 300
evaluation_periods = 2
actions = ["arn:aws:sns:${{region}}:123456789012:webapp-${{environment}}-oncall"]

[alarm.db-cpu]
for = "db_cluster.main"
metric = "CPUUtilization"
statistic = "Maximum"
comparison = ">="
threshold = 90.5
period = 60
evaluation_periods = 5
actions = ["arn:aws:sns:${{region}}:123456789012:webapp-${{environment}}-oncall"]

[dashboard.main]
body = "dashboards/main.json"
"#,
            team = self.team,
            staging_instance = self.staging.instance_fields(),
            staging_class = self.staging.instance_class,
            staging_instances = self.staging.instances,
            production_instance = self.production.instance_fields(),
            production_class = self.production.instance_class,
            production_instances = self.production.instances,
            base_retention = self.retention[0],
            staging_retention = self.retention[1],
            production_retention = self.retention[2],
            zone_b = self.zone_b,
            description = self.description,
            port = self.https_port,
            ami = self.ami,
            base_instance = self.base.instance_fields().replace(", ", "\n"),
            monitoring = self.monitoring,
            minor = self.engine_version_minor,
            base_class = self.base.instance_class,
            base_instances = self.base.instances,
            db_subnets = self.db_subnets,
            instance_subnets = self.instance_subnets,
            hour = self.backup_hour,
            next_hour = self.backup_hour + 1,
            deletion_protection = self.deletion_protection,
            master = self.master_username,
            force_ssl = u8::from(self.force_ssl),
            log_retention = self.log_retention,
            log_level = self.log_level,
            trace_endpoint = self.trace_endpoint,
            cpu_threshold = self.cpu_threshold,
        )
    }

    fn spec(&self) -> Spec {
        let source = SourceFile::new("parity.toml", self.text())
            .with_file("dashboards/main.json", Ok(self.dashboard.clone()));
        let checked = check(&source, TODAY);
        // Warnings are fine (equal random values make the declared difference pointless).
        let errors: Vec<String> = checked
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.render(&source))
            .collect();
        assert!(errors.is_empty(), "{}", errors.join("\n"));
        checked.spec.expect("a spec without errors")
    }
}

fn scale() -> impl Strategy<Value = Scale> {
    (
        proptest::sample::select(vec!["t3.micro", "t3.medium", "m7i.large", "c6g.4xlarge"]),
        0u8..=100,
        proptest::option::of(1u16..=16_384),
        proptest::sample::select(vec!["db.t3.medium", "db.r6g.large", "db.r6g.2xlarge"]),
        1u8..=16,
    )
        .prop_map(
            |(instance_type, count, volume_size, instance_class, instances)| Scale {
                instance_type,
                count,
                volume_size,
                instance_class,
                instances,
            },
        )
}

/// One edit of a setting that is neither scale nor a declared difference.
#[derive(Debug, Clone)]
enum Edit {
    Team(String),
    Network(u8),
    ZoneB(char),
    Description(String),
    Port(u16),
    Ami(String),
    Monitoring,
    EngineVersion(u8),
    BackupHour(u8),
    DeletionProtection,
    MasterUsername(String),
    InstanceSubnetOrder,
    ForceSsl,
    LogRetention(u16),
    LogLevel(String),
    TraceEndpoint(String),
    CpuThreshold(String),
    DashboardTitle(String),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,15}".prop_map(Edit::Team),
        (1u8..=255).prop_map(Edit::Network),
        proptest::sample::select(vec!['c', 'd', 'e', 'f']).prop_map(Edit::ZoneB),
        "[A-Za-z0-9 ._-]{1,40}".prop_map(Edit::Description),
        any::<u16>().prop_map(Edit::Port),
        prop_oneof!["[0-9a-f]{8}", "[0-9a-f]{17}"].prop_map(|hex| Edit::Ami(format!("ami-{hex}"))),
        Just(Edit::Monitoring),
        (0u8..=99).prop_map(Edit::EngineVersion),
        (0u8..=8).prop_map(Edit::BackupHour),
        Just(Edit::DeletionProtection),
        "[a-z][a-z0-9_]{0,15}".prop_map(Edit::MasterUsername),
        Just(Edit::InstanceSubnetOrder),
        Just(Edit::ForceSsl),
        proptest::sample::select(vec![1u16, 7, 14, 90, 365]).prop_map(Edit::LogRetention),
        "[A-Z]{1,8}".prop_map(Edit::LogLevel),
        "[a-z]{1,8}:[0-9]{2,4}".prop_map(Edit::TraceEndpoint),
        "[A-Za-z ]{1,12}".prop_map(Edit::DashboardTitle),
        prop_oneof!["[1-9][0-9]{0,2}", "[1-9][0-9]?\\.[0-9]*[1-9]"].prop_map(Edit::CpuThreshold),
    ]
}

impl Edit {
    /// Applies the edit; `false` when it happens to leave the setting as it was.
    fn apply(&self, knobs: &mut Knobs) -> bool {
        fn set<T: PartialEq>(slot: &mut T, value: T) -> bool {
            let changed = *slot != value;
            *slot = value;
            changed
        }
        match self.clone() {
            Edit::Team(team) => set(&mut knobs.team, team),
            Edit::Network(octet) => set(&mut knobs.cidr_second_octet, octet),
            Edit::ZoneB(zone) => set(&mut knobs.zone_b, zone),
            Edit::Description(text) => set(&mut knobs.description, text),
            Edit::Port(port) => set(&mut knobs.https_port, port),
            Edit::Ami(ami) => set(&mut knobs.ami, ami),
            Edit::Monitoring => {
                knobs.monitoring = !knobs.monitoring;
                true
            }
            Edit::EngineVersion(minor) => set(&mut knobs.engine_version_minor, minor),
            Edit::BackupHour(hour) => set(&mut knobs.backup_hour, hour),
            Edit::DeletionProtection => {
                knobs.deletion_protection = !knobs.deletion_protection;
                true
            }
            Edit::MasterUsername(name) => set(&mut knobs.master_username, name),
            Edit::InstanceSubnetOrder => set(&mut knobs.instance_subnets, "[\"b\", \"a\"]"),
            Edit::ForceSsl => {
                knobs.force_ssl = !knobs.force_ssl;
                true
            }
            Edit::LogRetention(days) => set(&mut knobs.log_retention, days),
            Edit::LogLevel(level) => set(&mut knobs.log_level, level),
            Edit::TraceEndpoint(endpoint) => set(&mut knobs.trace_endpoint, endpoint),
            Edit::CpuThreshold(threshold) => set(&mut knobs.cpu_threshold, threshold),
            Edit::DashboardTitle(title) => {
                let edited = DASHBOARD.replace("app CPU", &title);
                set(&mut knobs.dashboard, edited)
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn scale_and_declared_differences_leave_the_digest_alone(
        base in scale(),
        staging in scale(),
        production in scale(),
        retention in proptest::array::uniform3(1u8..=35),
    ) {
        let reference = Knobs::webapp().spec();
        let knobs = Knobs { base, staging, production, retention, ..Knobs::webapp() };
        let spec = knobs.spec();
        prop_assert_eq!(spec.parity_digest(), reference.parity_digest());
        for environment in spec.environment_names() {
            let state = spec.expand(environment).expect("declared");
            prop_assert_eq!(&state.parity_digest, reference.parity_digest());
        }
    }

    #[test]
    fn any_non_scale_edit_changes_the_digest(edit in edit()) {
        let reference = Knobs::webapp().spec();
        let mut knobs = Knobs::webapp();
        // An edit that leaves its setting as it was is no edit.
        prop_assume!(edit.apply(&mut knobs));
        let spec = knobs.spec();
        prop_assert_ne!(spec.parity_digest(), reference.parity_digest());
    }
}

#[test]
fn the_knobs_reproduce_the_shipped_example() {
    let shipped = include_str!("../../../environments/webapp.toml");
    let source = SourceFile::new("webapp.toml", shipped)
        .with_file("dashboards/main.json", Ok(DASHBOARD.into()));
    let shipped = check(&source, TODAY).spec.expect("clean");
    assert_eq!(
        Knobs::webapp().spec().parity_digest(),
        shipped.parity_digest()
    );
}

#[test]
fn set_like_lists_are_compared_as_sets_and_ordered_lists_in_order() {
    let reference = Knobs::webapp().spec();
    let database_reordered = Knobs {
        db_subnets: "[\"b\", \"a\"]",
        ..Knobs::webapp()
    };
    assert_eq!(
        database_reordered.spec().parity_digest(),
        reference.parity_digest(),
        "a DB subnet group is a set of subnets"
    );
    let instances_reordered = Knobs {
        instance_subnets: "[\"b\", \"a\"]",
        ..Knobs::webapp()
    };
    assert_ne!(
        instances_reordered.spec().parity_digest(),
        reference.parity_digest(),
        "instances are spread over their subnets in order"
    );
}

#[test]
fn writing_a_default_out_leaves_the_digest_alone() {
    let reference = Knobs::webapp().spec();
    let text = Knobs::webapp().text().replace(
        "[security_group.db]\n",
        "[security_group.db]\negress = [{ protocol = \"all\", cidr = \"0.0.0.0/0\" }]\n",
    );
    let source = SourceFile::new("parity.toml", text)
        .with_file("dashboards/main.json", Ok(DASHBOARD.into()));
    let spec = check(&source, TODAY).spec.expect("clean");
    assert_eq!(spec.parity_digest(), reference.parity_digest());
}
