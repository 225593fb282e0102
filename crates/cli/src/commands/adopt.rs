//! `envctl adopt ENV`: make what `envctl import` found the environment's own, by tagging it.
//!
//! Invariants: only tags are written (no resource is created, changed or recreated); what
//! would be tagged is shown and confirmed first, like an apply; a resource tagged for another
//! project or environment refuses the whole adoption before any change; the environment's
//! lock is held while tagging; the import record is removed only once everything in it is
//! adopted, so an interrupted adoption is finished by running it again.

use std::fmt::Write as _;

use envctl_engine::Environments;
use envctl_engine::ops::{self, AdoptError, ImportRecord, LockStore, Risk};

use crate::args::{AdoptArgs, GlobalArgs};
use crate::commands::import::record_path;
use crate::context::{connect, expand, load_spec, plural};
use crate::errors::{Outcome, UserError};

pub async fn run(global: &GlobalArgs, args: AdoptArgs) -> anyhow::Result<Outcome> {
    let AdoptArgs { environment, yes } = args;
    let loaded = load_spec(&global.spec)?;
    let desired = expand(&loaded, &environment)?;
    let path = record_path(&global.spec, &environment);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(UserError::new(format!(
                "nothing was imported for `{environment}` (there is no `{}`)",
                path.display()
            ))
            .hint(format!(
                "run `envctl import {environment} --vpc VPC_ID` first; an environment envctl created needs no adoption"
            ))
            .into());
        }
        Err(e) => {
            return Err(
                anyhow::Error::new(e).context(format!("failed to read `{}`", path.display()))
            );
        }
    };
    let record: ImportRecord = serde_json::from_str(&text).map_err(|e| {
        UserError::new(format!("`{}` is not an import record: {e}", path.display())).hint(format!(
            "run `envctl import {environment} --vpc VPC_ID` again"
        ))
    })?;
    let providers = connect(global, &loaded, &[&environment]).await?;
    let provider = providers.provider(&environment);
    let adoption = ops::plan_adoption(provider, &desired, &record)
        .await
        .map_err(|e| adopt_error(e, &environment))?;
    print!("{}", adoption_text(&environment, &adoption));
    if adoption.take.is_empty() {
        remove_record(&path)?;
        return Ok(Outcome::Success);
    }
    let question = format!(
        "Tag {} as `{environment}`'s?",
        plural(adoption.take.len(), "resource")
    );
    if !crate::confirm::confirm(&environment, &question, Risk::Ordinary, yes, None)? {
        crate::style::eprintln("adopt cancelled: nothing was tagged");
        return Err(crate::errors::Reported { code: 1 }.into());
    }
    let locks = crate::lock::store(&providers, &loaded);
    let lock = locks
        .acquire(&desired.project, &environment, std::time::Duration::ZERO)
        .await
        .map_err(|e| crate::lock::lock_error(e, &environment))?;
    let adopted = ops::adopt(provider, &adoption).await;
    if let Err(e) = locks.release(&lock).await {
        crate::style::eprintln(&format!(
            "warning: the lock of `{environment}` was not released: {e}"
        ));
    }
    let adopted = adopted.map_err(|e| adopt_error(e, &environment))?;
    remove_record(&path)?;
    crate::style::eprintln(&format!(
        "adopted {} into `{environment}`; `envctl plan {environment}` reads them as its own now",
        plural(adopted.len(), "resource")
    ));
    let left = ops::changes_after_adoption(
        provider,
        &desired,
        &record.members,
        &adoption
            .take
            .iter()
            .map(|(_, live)| live.clone())
            .collect::<Vec<_>>(),
    );
    for (address, changes) in left {
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        crate::style::eprintln(&format!(
            "warning: {address} differs from the spec in {}: the next apply changes it",
            fields.join(", ")
        ));
    }
    Ok(Outcome::Success)
}

/// What an adoption tags, and what it leaves.
fn adoption_text(environment: &str, adoption: &ops::Adoption) -> String {
    let mut out = String::new();
    if !adoption.take.is_empty() {
        let _ = writeln!(
            out,
            "envctl will tag {} as `{environment}`'s (its ownership tags, its `Name` and the spec's tags; nothing else changes):\n",
            plural(adoption.take.len(), "resource")
        );
        for (desired, live) in &adoption.take {
            let name = live
                .tags
                .get("Name")
                .map(|n| format!("  (was Name: {n})"))
                .unwrap_or_default();
            let _ = writeln!(out, "  ~ {}  {}{name}", desired.address, live.id);
        }
        out.push('\n');
    }
    if !adoption.already.is_empty() {
        let _ = writeln!(
            out,
            "{} already `{environment}`'s.",
            match adoption.already.len() {
                1 => "1 resource is".to_string(),
                n => format!("{n} resources are"),
            }
        );
    }
    for address in &adoption.gone {
        let _ = writeln!(
            out,
            "note: {address} was imported but is gone from the cloud: the next apply creates it"
        );
    }
    for address in &adoption.not_in_spec {
        let _ = writeln!(
            out,
            "note: {address} was imported but is not in the spec any more: it is left as it is"
        );
    }
    if adoption.take.is_empty() {
        let _ = writeln!(out, "Nothing to adopt in `{environment}`.");
    }
    out
}

fn remove_record(path: &std::path::Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => {
            Err(anyhow::Error::new(e).context(format!("failed to remove `{}`", path.display())))
        }
    }
}

fn adopt_error(error: AdoptError, environment: &str) -> anyhow::Error {
    match error {
        AdoptError::Read(source) => crate::commands::cloud_error(
            source,
            format!("failed to read what was imported for `{environment}`"),
        ),
        AdoptError::Tag { address, id, source } => crate::commands::cloud_error(
            source,
            format!(
                "failed to tag {address} ({id}); what was tagged before it is adopted: run `envctl adopt {environment}` again to finish"
            ),
        ),
        AdoptError::Owned { .. } => UserError::new(format!("refusing to adopt: {error}"))
            .hint("a resource of another environment or project is never taken over; import a VPC that is only this environment's")
            .into(),
        AdoptError::OtherTarget { .. } => UserError::new(error.to_string()).into(),
    }
}
