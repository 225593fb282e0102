//! `envctl import ENV --vpc ID`: write the spec of an environment that exists in the cloud
//! (everything inside one VPC, read, nothing changed), or, into an existing spec, what a
//! second environment adds to it: its scale and the differences a person must decide on.
//!
//! Invariants: nothing in the cloud is changed; an existing spec is only appended to (its
//! text, comments and layout are kept) and never for an environment it already declares; a
//! new spec is written only when it validates; what the spec cannot say is in the file as
//! comments and on stderr; the record `adopt` needs (which cloud id is which address) is
//! written next to the spec, in `.envctl/imports/ENV.json`.

use std::path::{Path, PathBuf};

use envctl_engine::ops::{self, ImportRecord, ImportRequest, Imported};
use envctl_spec::SourceFile;
use envctl_spec::draft::{self, SpecDraft};

use crate::args::{GlobalArgs, ImportArgs};
use crate::context::{connect_without_spec, plural, write_file};
use crate::errors::{Outcome, UserError};

/// Where the import record of `environment` is kept for the spec at `spec`.
pub fn record_path(spec: &Path, environment: &str) -> PathBuf {
    spec.parent()
        .unwrap_or_else(|| Path::new("."))
        .join(".envctl")
        .join("imports")
        .join(format!("{environment}.json"))
}

pub async fn run(global: &GlobalArgs, args: ImportArgs) -> anyhow::Result<Outcome> {
    let ImportArgs {
        environment,
        vpc,
        project,
    } = args;
    check_name(&environment)?;
    let existing = match std::fs::read_to_string(&global.spec) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("failed to read `{}`", global.spec.display())));
        }
    };
    let (project, region) = match &existing {
        Some(text) => {
            let (spec_project, spec_region) = project_of(text, &global.spec)?;
            if let Some(asked) = project.filter(|p| *p != spec_project) {
                return Err(UserError::new(format!(
                    "`{}` is the spec of `{spec_project}`, not `{asked}`",
                    global.spec.display()
                ))
                .hint("leave out `--project` to import into this spec, or pass another `--spec`")
                .into());
            }
            if draft::source_environments(text).contains(&environment) {
                return Err(UserError::new(format!(
                    "`{}` already declares `{environment}`",
                    global.spec.display()
                ))
                .hint("import another environment's VPC, or remove `[environments.ENV]` first")
                .into());
            }
            (spec_project, global.region.clone().unwrap_or(spec_region))
        }
        None => {
            let project = project.ok_or_else(|| {
                UserError::new(format!(
                    "`{}` does not exist yet, and a new spec needs its project's name",
                    global.spec.display()
                ))
                .hint("pass `--project NAME` (lowercase words joined by `-`, such as `shop`)")
            })?;
            check_name(&project)?;
            let region = global
                .region
                .clone()
                .or_else(default_region)
                .ok_or_else(|| {
                    UserError::new("no region to read the VPC in")
                        .hint("pass `--region`, or set `AWS_REGION`")
                })?;
            (project, region)
        }
    };
    crate::context::check_writable(&global.spec)?;
    let (provider, account) = connect_without_spec(global, &region).await?;
    let request = ImportRequest {
        project: project.clone(),
        environment: environment.clone(),
        region: region.clone(),
        vpc: vpc.clone(),
    };
    let imported = ops::import(&provider, &request)
        .await
        .map_err(|e| match e {
            ops::ImportError::NoNetwork { .. } => UserError::new(e.to_string())
                .hint("check the id, `--region`, and that the credentials are the VPC's account")
                .into(),
            ops::ImportError::Read(error) => {
                crate::commands::cloud_error(error, format!("failed to read `{vpc}` in {region}"))
            }
        })?;
    let (members, left_out) = match &existing {
        None => write_new_spec(global, &imported, &provider)?,
        Some(text) => append_environment(global, text, &imported)?,
    };
    let record = ImportRecord {
        format_version: ops::adopt::IMPORT_RECORD_VERSION,
        project,
        environment: environment.clone(),
        region,
        account: Some(account),
        vpc,
        members,
    };
    let path = record_path(&global.spec, &environment);
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).map_err(|e| {
            anyhow::Error::new(e).context(format!("failed to create `{}`", folder.display()))
        })?;
    }
    write_file(&path, &serde_json::to_string_pretty(&record)?)?;
    for line in &left_out {
        crate::style::eprintln(&format!("warning: not in the spec: {line}"));
    }
    crate::style::eprintln(&format!(
        "next: review `{}`, then `envctl adopt {environment}` tags the {} as `{environment}`'s (the record is `{}`)",
        global.spec.display(),
        plural(record.members.len(), "imported resource"),
        path.display()
    ));
    Ok(Outcome::Success)
}

/// Writes the draft as a new spec, once it validates; returns the members and what was left
/// out.
fn write_new_spec(
    global: &GlobalArgs,
    imported: &Imported,
    provider: &envctl_providers::AwsProvider,
) -> anyhow::Result<(Vec<ops::Member>, Vec<String>)> {
    let mut draft: SpecDraft = imported.draft.clone();
    let text = draft.render();
    let source = SourceFile::new(global.spec.display().to_string(), text.clone());
    let checked = envctl_spec::check(&source, crate::context::today());
    let Some(spec) = checked.spec else {
        for diagnostic in &checked.diagnostics {
            eprint!("{}", diagnostic.render(&source));
        }
        return Err(UserError::new(
            "the spec drafted from the cloud does not validate; nothing was written",
        )
        .hint("this is a bug in `envctl import`: please report it with the diagnostics above")
        .into());
    };
    let environment = &imported.draft.environment.name;
    let desired = spec
        .expand(environment)
        .map_err(|e| UserError::new(e.to_string()))?;
    // What the spec cannot make equal: said in the file and on stderr, never left silent.
    for (address, changes) in
        ops::changes_after_adoption(provider, &desired, &imported.members, &imported.found)
    {
        for change in changes {
            draft.left_out.push(format!(
                "{address}: `{}` is {} in the cloud, and the spec makes it {} (the first apply after `envctl adopt` changes it)",
                change.field,
                crate::render::value_text(change.live.as_ref()),
                crate::render::value_text(change.desired.as_ref()),
            ));
        }
    }
    write_file(&global.spec, &draft.render())?;
    crate::style::eprintln(&format!(
        "wrote `{}`: {} of `{environment}` in {} resource tables",
        global.spec.display(),
        plural(imported.members.len(), "cloud resource"),
        draft.resources.len()
    ));
    Ok((imported.members.clone(), draft.left_out))
}

/// Appends a second environment to the existing spec `text`: its scale, drafted
/// differences, and what was left out; returns the members matched and what was left out.
fn append_environment(
    global: &GlobalArgs,
    text: &str,
    imported: &Imported,
) -> anyhow::Result<(Vec<ops::Member>, Vec<String>)> {
    let Some(existing) = draft::source_tables(text) else {
        return Err(
            UserError::new(format!("`{}` is not TOML", global.spec.display()))
                .hint("run `envctl validate` to see where")
                .into(),
        );
    };
    let merge = ops::merge(&existing, imported);
    let environment = &merge.environment.name;
    let mut appended = String::new();
    if !text.ends_with('\n') {
        appended.push('\n');
    }
    appended.push_str(&format!(
        "\n# Added by `envctl import {environment} --vpc {}`.\n",
        imported_vpc(imported)
    ));
    appended.push_str(&draft::render_environment(&merge.environment));
    appended.push_str(&draft::render_differences(&merge.differences));
    appended.push_str(&draft::left_out_text(&merge.left_out));
    // The environments table must come before `[[differences]]` in TOML's eyes only when it
    // is inline; a `[environments.NAME]` table may follow any other table.
    let merged = format!("{text}{appended}");
    if !draft::is_toml(&merged) {
        return Err(UserError::new(format!(
            "`{}` would not be TOML with `{environment}` added; nothing was written",
            global.spec.display()
        ))
        .hint("declare the environments as `[environments.NAME]` tables (not inline), then import again")
        .into());
    }
    write_file(&global.spec, &merged)?;
    crate::style::eprintln(&format!(
        "added `{environment}` to `{}`: {} matched the spec's resources, {} of scale, {}",
        global.spec.display(),
        plural(merge.members.len(), "cloud resource"),
        plural(merge.environment.scale.len(), "override"),
        plural(merge.differences.len(), "drafted difference"),
    ));
    if !merge.differences.is_empty() {
        crate::style::eprintln(&format!(
            "warning: `envctl validate` refuses the spec until each drafted difference has its reason, risk, owner and expiry (written `TODO`): decide for each whether `{environment}` should differ at all"
        ));
    }
    Ok((merge.members, merge.left_out))
}

fn imported_vpc(imported: &Imported) -> &str {
    imported
        .members
        .iter()
        .find(|m| m.address.kind == envctl_spec::ResourceKind::Vpc)
        .map_or("", |m| m.id.as_str())
}

/// The project and region of the spec `text` (`[project]`'s `name` and `region`).
fn project_of(text: &str, path: &Path) -> anyhow::Result<(String, String)> {
    draft::source_project(text).ok_or_else(|| {
        UserError::new(format!(
            "`{}` has no `[project]` with `name` and `region`",
            path.display()
        ))
        .hint("run `envctl validate` to see what is wrong with it")
        .into()
    })
}

fn default_region() -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|r| !r.is_empty()))
}

/// A project or environment name: lowercase words and digits joined by single `-`.
fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(UserError::new(format!("`{name}` is not a valid name"))
            .hint("use lowercase letters, digits and single `-`, starting with a letter (`staging`, `shop`)")
            .into())
    }
}
