//! Environments in their own accounts and regions: where each lives is checked where it is
//! written; a region other than the project's must be declared; zones written as suffixes land
//! in each environment's region; none of it changes the parity digest.
#![allow(clippy::unwrap_used)]

use envctl_spec::{CivilDate, SourceFile, check};

const WEBAPP: &str = include_str!("../../../environments/webapp.toml");

const REGION_DIFFERENCE: &str = "[[differences]]
resource = \"project\"
field = \"region\"
values = { staging = \"us-west-2\", production = \"us-east-1\" }
reason = \"Staging in one region is enough for testing\"
risk = \"Region-specific issues may not surface in staging\"
owner = \"platform-team\"
expires = 2027-06-30

";

/// The example with `edits`, checked: the rendered diagnostics and the spec, if valid.
fn checked(edits: &[(&str, &str)]) -> (Vec<String>, Option<envctl_spec::Spec>) {
    let mut text = WEBAPP.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the example has no `{from}`");
        text = text.replacen(from, to, 1);
    }
    let source = SourceFile::new("envctl.toml", &text).with_file(
        "dashboards/main.json",
        Ok(include_str!("../../../environments/dashboards/main.json").into()),
    );
    let checked = check(&source, CivilDate::new(2026, 6, 1).expect("date"));
    let rendered = checked
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| d.render(&source))
        .collect();
    (rendered, checked.spec)
}

const STAGING: &str = "[environments.staging]\n";
const PRODUCTION: &str = "[environments.production]\n";
const DIFFERENCES: &str = "# The only way a non-scale field may differ";

#[test]
fn two_accounts_and_regions_expand_each_where_it_lives_at_parity() {
    let (errors, spec) = checked(&[
        (
            STAGING,
            "[environments.staging]\naccount_id = \"111111111111\"\nregion = \"us-west-2\"\n",
        ),
        (
            PRODUCTION,
            "[environments.production]\naccount_id = \"222222222222\"\nrole_arn = \"arn:aws:iam::222222222222:role/envctl-deploy\"\nregion = \"us-east-1\"\nlock_bucket = \"webapp-prod-envctl-locks\"\n",
        ),
        (DIFFERENCES, &format!("{REGION_DIFFERENCE}{DIFFERENCES}")),
        ("zone = \"us-east-1a\"", "zone = \"a\""),
        ("zone = \"us-east-1b\"", "zone = \"b\""),
    ]);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    let spec = spec.expect("valid");
    let staging = spec.expand("staging").unwrap();
    let production = spec.expand("production").unwrap();
    assert_eq!(staging.region, "us-west-2");
    assert_eq!(staging.account_id.as_deref(), Some("111111111111"));
    assert_eq!(production.region, "us-east-1");
    assert_eq!(
        production.lock_bucket.as_deref(),
        Some("webapp-prod-envctl-locks")
    );
    let zone = |state: &envctl_spec::DesiredState| {
        state
            .resource(&"subnet.a".parse().unwrap())
            .and_then(|r| r.field("zone"))
            .and_then(envctl_spec::Value::as_str)
            .map(str::to_string)
    };
    assert_eq!(zone(&staging).as_deref(), Some("us-west-2a"));
    assert_eq!(zone(&production).as_deref(), Some("us-east-1a"));
    assert_eq!(staging.parity_digest, production.parity_digest);
    let settings = spec.environment("production").unwrap();
    assert_eq!(
        settings.role_arn.as_deref(),
        Some("arn:aws:iam::222222222222:role/envctl-deploy")
    );
    assert!(
        spec.differences()
            .iter()
            .any(|d| d.resource == "project" && d.field == "region"),
        "the region difference is listed with the others"
    );
}

#[test]
fn a_region_of_its_own_must_be_declared() {
    let (errors, spec) = checked(&[(STAGING, "[environments.staging]\nregion = \"us-west-2\"\n")]);
    assert!(spec.is_none());
    let all = errors.join("\n");
    assert!(
        all.contains(
            "environment `staging` is in region `us-west-2`, but the project's is `us-east-1`"
        ),
        "{all}"
    );
    assert!(
        all.contains("--> envctl.toml:10:"),
        "located at the line: {all}"
    );
    assert!(
        all.contains("resource = \"project\""),
        "the hint shows the entry: {all}"
    );
    // The full zone names of the example are also refused, with the suffix as the hint.
    assert!(
        all.contains(
            "zone `us-east-1a` of `subnet.a` is not in region `us-west-2` of environment `staging`"
        ),
        "{all}"
    );
    assert!(all.contains("zone = \"a\""), "{all}");
}

#[test]
fn where_an_environment_lives_is_checked_where_it_is_written() {
    let (errors, spec) = checked(&[
        (
            STAGING,
            "[environments.staging]\naccount_id = \"1111\"\nrole_arn = \"arn:aws:iam::222222222222:user/x\"\nregion = \"west\"\nlock_bucket = \"Not_A_Bucket\"\n",
        ),
        (
            PRODUCTION,
            "[environments.production]\naccount_id = \"222222222222\"\nrole_arn = \"arn:aws:iam::333333333333:role/deploy\"\nsession_name = \"x\"\n",
        ),
    ]);
    assert!(spec.is_none());
    let all = errors.join("\n");
    for expected in [
        "`1111` is not an AWS account id (in environment `staging`)",
        "`arn:aws:iam::222222222222:user/x` is not an IAM role ARN",
        "`west` is not an AWS region",
        "`Not_A_Bucket` is not an S3 bucket name",
        "the role of environment `production` is in account 333333333333, but the environment lives in 222222222222",
        "`x` is not a role session name",
    ] {
        assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
    }
    // A session name without a role.
    let (errors, _) = checked(&[(
        STAGING,
        "[environments.staging]\nexternal_id = \"abc123\"\n",
    )]);
    assert!(
        errors
            .join("\n")
            .contains("`external_id` of environment `staging` is for a role"),
        "{errors:?}"
    );
}

#[test]
fn only_the_region_of_the_project_may_differ() {
    let (errors, _) = checked(&[(
        DIFFERENCES,
        &format!(
            "{}{DIFFERENCES}",
            REGION_DIFFERENCE.replace("field = \"region\"", "field = \"name\"")
        ),
    )]);
    assert!(
        errors
            .join("\n")
            .contains("`name` of `project` cannot differ between environments"),
        "{errors:?}"
    );
}

#[test]
fn environments_in_two_accounts_do_not_share_a_lock_bucket() {
    let (errors, _) = checked(&[
        (
            STAGING,
            "[environments.staging]\naccount_id = \"111111111111\"\n",
        ),
        (
            PRODUCTION,
            "[environments.production]\naccount_id = \"222222222222\"\n",
        ),
    ]);
    let all = errors.join("\n");
    assert!(
        all.contains("environments `staging` and `production` live in accounts 111111111111 and 222222222222 but share lock bucket `webapp-envctl-locks`"),
        "{all}"
    );
    assert!(
        all.contains("--> envctl.toml:7:"),
        "at the project's lock_bucket: {all}"
    );
}

#[test]
fn a_zone_written_as_a_suffix_and_in_full_is_one_zone() {
    // Subnet a in `b` and subnet b in `us-east-1b`: the database's subnets share one zone.
    let (errors, _) = checked(&[("zone = \"us-east-1a\"", "zone = \"b\"")]);
    assert!(
        errors
            .join("\n")
            .contains("the subnets of `db_cluster.main` are all in zone `b`"),
        "{errors:?}"
    );
}
