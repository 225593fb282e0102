//! Import: an environment built by hand with another client becomes a spec, is adopted
//! without a restart, and a second, slightly different environment joins the same spec as
//! scale overrides and drafted differences a person must decide on.

use serde_json::Value;

use crate::support::{Emulator, Project, Run};

/// Builds an environment the way a person does in the console (no envctl tags).
fn build_by_hand(emulator: &Emulator, plan: Value) -> Value {
    emulator.client(&["build-by-hand", &plan.to_string()])
}

/// The id of the resource tagged as `address` of `environment` of the `shop` project.
fn id_of(emulator: &Emulator, collection: &str, environment: &str, address: &str) -> Value {
    let inventory = emulator.inventory();
    let found: Vec<&Value> = inventory.0[collection]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| {
            item["tags"]["envctl:project"] == "shop"
                && item["tags"]["envctl:environment"] == environment
                && item["tags"]["envctl:address"] == address
        })
        .collect();
    assert_eq!(found.len(), 1, "one {address} in {environment}: {found:?}");
    found[0]["id"].clone()
}

fn untagged_instances(emulator: &Emulator) -> usize {
    emulator.inventory().0["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["tags"].get("envctl:project").is_none())
        .count()
}

/// `envctl import staging` of the VPC `vpc` of the project `shop`, before any spec exists.
fn import_staging(project: &Project, emulator: &Emulator, vpc: &str) -> Run {
    project.envctl(
        emulator,
        &[
            "--region",
            "us-east-1",
            "import",
            "staging",
            "--vpc",
            vpc,
            "--project",
            "shop",
        ],
    )
}

#[test]
fn a_hand_built_environment_is_imported_adopted_and_then_planned_with_no_change() {
    let emulator = Emulator::start();
    let project = Project::empty("import");
    let staging = build_by_hand(
        &emulator,
        serde_json::json!({
            "prefix": "shop-staging", "cidr": "10.1", "instances": 2,
            "instance_type": "t3.small", "db_instances": 1, "db_class": "db.t3.medium",
            "retention": 7, "gateway": true, "config": "/shop/staging",
        }),
    );
    let vpc = staging["vpc"].as_str().unwrap();

    let import = import_staging(&project, &emulator, vpc).expect_code(0);
    let spec = project.spec_text();
    // Named as a person named them, without the project's and environment's words; the two
    // web servers are one role; versions as found; references by name.
    for expected in [
        "[vpc.network]",
        "[subnet.private-a]",
        "[security_group.web]",
        "[security_group.db]",
        "ingress = [{ protocol = \"tcp\", ports = 5432, from_group = \"web\" }]",
        "[instance.web]",
        "count = 2",
        "subnets = [\"private-a\", \"private-b\"]",
        "[db_cluster.orders]",
        "engine_version = \"15.4\"",
        "backup_retention_days = 7",
        "instance.web = { instance_type = \"t3.small\", count = 2, volume_size = 8 }",
        // Logs and configuration under the environment's path; a value naming its
        // environment written once for all.
        "[log_group.app]\nretention_days = 30",
        "[parameter.log-level]\nvalue = \"INFO\"",
        "[parameter.trace-endpoint]\nvalue = \"${environment}-jaeger:6831\"",
    ] {
        assert!(spec.contains(expected), "no `{expected}` in\n{spec}");
    }
    // A secret is never written: said instead.
    assert!(!spec.contains("hunter2"), "{spec}");
    assert!(
        spec.contains("# - parameter `/shop/staging/db-password` is a SecureString"),
        "{spec}"
    );
    assert!(
        import.stderr.contains("envctl adopt staging"),
        "{}",
        import.stderr
    );
    // What envctl does not model is said, in the spec and on stderr.
    assert!(
        spec.contains("# - internet gateway igw-")
            && import
                .stderr
                .contains("warning: not in the spec: internet gateway igw-"),
        "{spec}\n{}",
        import.stderr
    );
    // Nothing in the cloud was changed: the instances are still nobody's.
    assert_eq!(untagged_instances(&emulator), 2);
    project.envctl(&emulator, &["validate"]).expect_code(0);

    // Before adopting, the spec's resources are not the environment's yet: the plan would
    // create them, and is refused where a name is the hand-built resource's.
    let unadopted = project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(1);
    assert!(
        unadopted.stdout.contains("+ instance.web[0]") && unadopted.stdout.contains("name taken"),
        "{}",
        unadopted.stdout
    );
    let adopt = project
        .envctl(&emulator, &["adopt", "staging", "--yes"])
        .expect_code(0);
    assert!(
        adopt.stdout.contains(&format!("~ vpc.network  {vpc}")),
        "{}",
        adopt.stdout
    );
    assert!(adopt.stderr.contains("adopted"), "{}", adopt.stderr);
    // The next plan reads them as the environment's own: nothing to change, nothing
    // recreated (the ids are the hand-built ones).
    let plan = project
        .envctl(&emulator, &["plan", "staging", "--detailed-exitcode"])
        .expect_code(0);
    assert!(plan.stdout.contains("No changes"), "{}", plan.stdout);
    assert_eq!(id_of(&emulator, "vpcs", "staging", "vpc.network"), vpc);
    for (index, id) in staging["instances"].as_array().unwrap().iter().enumerate() {
        let address = format!("instance.web[{index}]");
        assert_eq!(&id_of(&emulator, "instances", "staging", &address), id);
    }
    assert_eq!(
        id_of(&emulator, "db_clusters", "staging", "db_cluster.orders"),
        "shop-staging-orders"
    );
    // The record is gone with the adoption.
    project
        .envctl(&emulator, &["adopt", "staging"])
        .expect_code(1);

    // A second, slightly different environment: more and bigger servers, a bigger database,
    // longer backups.
    let production = build_by_hand(
        &emulator,
        serde_json::json!({
            "prefix": "shop-production", "cidr": "10.2", "instances": 3,
            "instance_type": "t3.large", "db_instances": 2, "db_class": "db.r6g.large",
            "retention": 30, "config": "/shop/production",
        }),
    );
    let vpc = production["vpc"].as_str().unwrap();
    let before = project.spec_text();
    let merged = project
        .envctl(&emulator, &["import", "production", "--vpc", vpc])
        .expect_code(0);
    let spec = project.spec_text();
    assert!(
        spec.starts_with(&before),
        "the spec is appended to, not rewritten"
    );
    let added = &spec[before.len()..];
    for expected in [
        "[environments.production]",
        "instance.web = { instance_type = \"t3.large\", count = 3, volume_size = 8 }",
        "db_cluster.orders = { instance_class = \"db.r6g.large\", instances = 2 }",
        "[[differences]]\nresource = \"db_cluster.orders\"\nfield = \"backup_retention_days\"\nvalues = { production = 30 }\nreason = \"TODO\"",
    ] {
        assert!(added.contains(expected), "no `{expected}` in\n{added}");
    }
    // Its network ranges differ too: each is a difference to decide on, like the backups.
    for (resource, cidr) in [
        ("vpc.network", "10.2.0.0/16"),
        ("subnet.private-a", "10.2.1.0/24"),
        ("subnet.private-b", "10.2.2.0/24"),
    ] {
        let expected = format!(
            "resource = \"{resource}\"\nfield = \"cidr\"\nvalues = {{ production = \"{cidr}\" }}"
        );
        assert!(added.contains(&expected), "no `{expected}` in\n{added}");
    }
    assert_eq!(added.matches("[[differences]]").count(), 4, "{added}");
    assert!(
        merged.stderr.contains("4 drafted differences"),
        "{}",
        merged.stderr
    );
    // The "which differences are intentional?" conversation, forced: not valid until decided.
    let refused = project.envctl(&emulator, &["validate"]).expect_code(1);
    assert!(
        refused.stderr.contains("still a draft") && refused.stderr.contains("expires"),
        "{}",
        refused.stderr
    );

    // Decided: production keeps 30 days of backups and its own address range, declared.
    let decided = spec
        .replace("reason = \"TODO\"", "reason = \"decided in review\"")
        .replace("risk = \"TODO\"", "risk = \"restores and ranges differ\"")
        .replace("owner = \"TODO\"", "owner = \"platform\"")
        .replace("expires = \"TODO\"", "expires = 2027-06-30");
    std::fs::write(project.dir.join("envctl.toml"), decided).unwrap();
    project.envctl(&emulator, &["validate"]).expect_code(0);
    project
        .envctl(&emulator, &["adopt", "production", "--yes"])
        .expect_code(0);
    project
        .envctl(&emulator, &["plan", "production", "--detailed-exitcode"])
        .expect_code(0);
    // The two environments are equal but for scale and the declared difference.
    let parity = project
        .envctl(&emulator, &["parity", "staging", "production"])
        .expect_code(0);
    assert!(
        parity.stdout.contains("backup_retention_days"),
        "{}",
        parity.stdout
    );
}

#[test]
fn adopt_refuses_a_resource_of_another_environment_before_tagging_anything() {
    let emulator = Emulator::start();
    let project = Project::empty("adopt-refused");
    let built = build_by_hand(
        &emulator,
        serde_json::json!({
            "prefix": "hand", "cidr": "10.3", "instances": 1, "instance_type": "t3.small",
            "db_instances": 1, "db_class": "db.t3.medium", "retention": 7,
        }),
    );
    let vpc = built["vpc"].as_str().unwrap();
    import_staging(&project, &emulator, vpc).expect_code(0);
    // Meanwhile someone claims the web group for another environment.
    let web = built["web"].as_str().unwrap();
    emulator.client(&["set-tag", web, "envctl:project", "shop"]);
    emulator.client(&["set-tag", web, "envctl:environment", "qa"]);
    let refused = project
        .envctl(&emulator, &["adopt", "staging", "--yes"])
        .expect_code(1);
    assert!(
        refused.stderr.contains("tagged for shop/qa"),
        "{}",
        refused.stderr
    );
    // Nothing was tagged: the VPC and the instance are still nobody's.
    assert_eq!(untagged_instances(&emulator), 1);
    let inventory = emulator.inventory();
    let vpcs = inventory.0["vpcs"].as_array().unwrap();
    let found = vpcs.iter().find(|v| v["id"] == vpc).unwrap();
    assert!(found["tags"].get("envctl:project").is_none(), "{found}");
    // An unknown VPC is said so, and nothing is written.
    let other = Project::empty("import-unknown");
    let unknown = import_staging(&other, &emulator, "vpc-0000000000000dead").expect_code(1);
    assert!(
        unknown.stderr.contains("there is no VPC"),
        "{}",
        unknown.stderr
    );
    assert!(!other.dir.join("envctl.toml").exists());
}
