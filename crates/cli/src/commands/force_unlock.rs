//! `envctl force-unlock ENV LOCK_ID`: remove a lock whose holder died.

use envctl_engine::ops::{LockError, LockStore};

use crate::args::{ForceUnlockArgs, GlobalArgs};
use crate::context::{connect, expand, load_spec};
use crate::errors::{Outcome, UserError};

pub async fn run(global: &GlobalArgs, args: ForceUnlockArgs) -> anyhow::Result<Outcome> {
    let ForceUnlockArgs {
        environment,
        lock_id,
        yes,
    } = args;
    let loaded = load_spec(&global.spec)?;
    expand(&loaded, &environment)?;
    let providers = connect(global, &loaded, &[&environment]).await?;
    let store = crate::lock::store(&providers, &loaded);
    // Show whose lock it is and ask: removing a live run's lock lets two runs change the
    // environment at once.
    let holder = store
        .holder(loaded.spec.project(), &environment)
        .await
        .map_err(|e| match e {
            LockError::Unavailable { reason, source } => {
                crate::commands::cloud_error(source, reason)
            }
            e => anyhow::Error::new(e).context("failed to read the lock"),
        })?;
    if let Some(holder) = &holder
        && holder.id == lock_id
    {
        let question = format!(
            "Remove the lock `{}` of `{environment}`, held by {} since {}s ago for `{}`? Only do this if that run is dead",
            holder.id,
            holder.holder,
            holder.age().as_secs(),
            holder.command
        );
        if !crate::confirm::confirm(
            &environment,
            &question,
            envctl_engine::ops::Risk::Ordinary,
            yes,
            None,
        )? {
            crate::style::eprintln("force-unlock cancelled: the lock stays");
            return Err(crate::errors::Reported { code: 1 }.into());
        }
    }
    match store
        .force_unlock(loaded.spec.project(), &environment, &lock_id)
        .await
    {
        Ok(info) => {
            eprintln!(
                "removed lock `{}` of `{environment}` (held by {} for `{}`)",
                info.id, info.holder, info.command
            );
            Ok(Outcome::Success)
        }
        Err(error @ (LockError::WrongId { .. } | LockError::NotLocked { .. })) => {
            Err(UserError::new(error.to_string())
                .hint("run the command that reported the lock again to see its current id")
                .into())
        }
        Err(LockError::Unavailable { reason, source }) => {
            Err(crate::commands::cloud_error(source, reason))
        }
        Err(error) => Err(anyhow::Error::new(error).context("failed to remove the lock")),
    }
}
