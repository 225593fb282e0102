//! Times `check` + `expand` of one environment on a generated spec of 1,000 resources.
//!
//! Run with `cargo bench -p envctl-spec`; prints the median, fastest and slowest of 30 runs.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use envctl_spec::{CivilDate, SourceFile, check};

const RUNS: usize = 30;
const VPCS: usize = 4;
const SUBNETS_PER_VPC: usize = 50;
const GROUPS_PER_VPC: usize = 50;
const INSTANCES: usize = 396;
const CLUSTERS: usize = 200;

/// A valid spec: 4 VPCs, 200 subnets, 200 security groups, 396 instances and 200 database
/// clusters (1,000 resources), two environments with scale overrides and declared differences.
fn generated_spec() -> String {
    let mut out = String::from(
        "[project]\nname = \"bench\"\nregion = \"us-east-1\"\ntags = { team = \"platform\" }\n\n\
         [environments.staging]\n\n[environments.production]\nprotected = true\n\
         promote_from = \"staging\"\n",
    );
    for i in (0..INSTANCES).step_by(4) {
        let _ = writeln!(
            out,
            "instance.i{i} = {{ instance_type = \"m7i.large\", count = 3 }}"
        );
    }
    for c in (0..CLUSTERS).step_by(4) {
        let _ = writeln!(
            out,
            "db_cluster.c{c} = {{ instance_class = \"db.r6g.large\", instances = 2 }}"
        );
    }
    for c in (0..CLUSTERS).step_by(10) {
        let _ = write!(
            out,
            "\n[[differences]]\nresource = \"db_cluster.c{c}\"\nfield = \"backup_retention_days\"\n\
             values = {{ production = 30 }}\nreason = \"compliance\"\nrisk = \"restores differ\"\n\
             owner = \"platform-team\"\nexpires = 2030-01-01\n"
        );
    }
    for v in 0..VPCS {
        let _ = write!(out, "\n[vpc.v{v}]\ncidr = \"10.{v}.0.0/16\"\n");
        for s in 0..SUBNETS_PER_VPC {
            let zone = ['a', 'b', 'c'][s % 3];
            let _ = write!(
                out,
                "\n[subnet.v{v}-s{s}]\nvpc = \"v{v}\"\ncidr = \"10.{v}.{s}.0/24\"\nzone = \"us-east-1{zone}\"\n"
            );
        }
        for g in 0..GROUPS_PER_VPC {
            let from = if g == 0 {
                format!("cidr = \"10.{v}.0.0/16\"")
            } else {
                format!("from_group = \"v{v}-g{}\"", g - 1)
            };
            let _ = write!(
                out,
                "\n[security_group.v{v}-g{g}]\nvpc = \"v{v}\"\ningress = [\n  \
                 {{ protocol = \"tcp\", ports = 443, cidr = \"10.0.0.0/8\" }},\n  \
                 {{ protocol = \"tcp\", ports = \"8000-8100\", {from} }},\n]\n"
            );
        }
    }
    for i in 0..INSTANCES {
        let v = i % VPCS;
        let s = i % SUBNETS_PER_VPC;
        let g = i % GROUPS_PER_VPC;
        let _ = write!(
            out,
            "\n[instance.i{i}]\nami = \"ami-0c55b159cbfafe1f0\"\ninstance_type = \"t3.medium\"\n\
             count = 2\nsubnets = [\"v{v}-s{s}\", \"v{v}-s{}\"]\nsecurity_groups = [\"v{v}-g{g}\"]\n\
             monitoring = true\n",
            (s + 1) % SUBNETS_PER_VPC
        );
    }
    for c in 0..CLUSTERS {
        let v = c % VPCS;
        let s = c % SUBNETS_PER_VPC;
        let _ = write!(
            out,
            "\n[db_cluster.c{c}]\nengine = \"aurora-postgresql\"\nengine_version = \"15.4\"\n\
             instance_class = \"db.t3.medium\"\nsubnets = [\"v{v}-s{s}\", \"v{v}-s{}\"]\n\
             security_groups = [\"v{v}-g{}\"]\nbackup_retention_days = 7\n\
             backup_window = \"03:00-04:00\"\nmaster_username = \"app\"\n",
            (s + 1) % SUBNETS_PER_VPC,
            c % GROUPS_PER_VPC
        );
    }
    out
}

fn main() {
    let text = generated_spec();
    let source = SourceFile::new("bench.toml", text);
    let today = CivilDate {
        year: 2026,
        month: 6,
        day: 1,
    };
    let mut times: Vec<Duration> = Vec::with_capacity(RUNS);
    let mut expanded = 0;
    for _ in 0..RUNS {
        let start = Instant::now();
        let checked = check(&source, today);
        let Some(spec) = checked.spec else {
            for diagnostic in &checked.diagnostics {
                eprintln!("{}", diagnostic.render(&source));
            }
            panic!("the generated spec must be valid");
        };
        let state = spec.expand("production").expect("declared environment");
        times.push(start.elapsed());
        expanded = state.resources.len();
    }
    times.sort();
    let median = times[RUNS / 2];
    println!(
        "spec: check + expand(\"production\") of 1000 resources ({} KiB of TOML, {expanded} \
         cloud resources)",
        source.text.len() / 1024
    );
    println!(
        "  median {:.2} ms, fastest {:.2} ms, slowest {:.2} ms over {RUNS} runs",
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3,
        times[RUNS - 1].as_secs_f64() * 1e3
    );
}
