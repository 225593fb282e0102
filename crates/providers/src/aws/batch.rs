//! Shared lookups: the waits in flight for resources of one kind read together.
//!
//! Owns [`Batcher`]. Invariants: a lookup opens a batch, and every lookup of the same kind
//! asked while it is open (for [`WINDOW`] after the first) joins it, so the waits in flight
//! make one describe per poll round between them instead of one each; the describe lists by
//! filter, so an id not visible yet is simply absent (`None`), never an error for the others;
//! an error of the describe is the error of every lookup that joined it; a lookup waits at
//! most the window plus the one describe; a batch left by lookups that were cancelled is
//! finished by the next lookup that joins it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use envctl_engine::ProviderError;
use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

/// How long a batch stays open for other lookups to join it after its first.
pub(crate) const WINDOW: Duration = Duration::from_millis(100);

/// One describe's answer, by id, shared by every lookup of its batch.
type Answer<V> = Arc<Result<BTreeMap<String, V>, ProviderError>>;

/// What a batch does once it closes: describes the ids it gathered.
pub(crate) type Fetch<V> = Box<
    dyn FnOnce(Vec<String>) -> BoxFuture<'static, Result<BTreeMap<String, V>, ProviderError>>
        + Send,
>;

struct Open<V> {
    generation: u64,
    ids: BTreeSet<String>,
    answer: Shared<BoxFuture<'static, Answer<V>>>,
}

struct Slot<V> {
    open: Option<Open<V>>,
    generation: u64,
}

/// Gathers concurrent lookups of one kind into one describe (clones share the batches).
pub(crate) struct Batcher<V> {
    slot: Arc<Mutex<Slot<V>>>,
}

impl<V> Clone for Batcher<V> {
    fn clone(&self) -> Self {
        Batcher {
            slot: Arc::clone(&self.slot),
        }
    }
}

impl<V> std::fmt::Debug for Batcher<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batcher").finish_non_exhaustive()
    }
}

impl<V> Default for Batcher<V> {
    fn default() -> Self {
        Batcher {
            slot: Arc::new(Mutex::new(Slot {
                open: None,
                generation: 0,
            })),
        }
    }
}

impl<V: Clone + Send + Sync + 'static> Batcher<V> {
    /// The value of `id`, from the describe of the batch it joins (`fetch` makes that describe
    /// when this lookup opens the batch); `None` when the describe does not list it.
    pub(crate) async fn get(&self, id: &str, fetch: Fetch<V>) -> Result<Option<V>, ProviderError> {
        let answer = {
            let mut slot = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
            match slot.open.as_mut() {
                Some(batch) => {
                    batch.ids.insert(id.to_string());
                    batch.answer.clone()
                }
                None => {
                    slot.generation += 1;
                    let generation = slot.generation;
                    let shared = Arc::clone(&self.slot);
                    let answer = async move {
                        tokio::time::sleep(WINDOW).await;
                        let ids = {
                            let mut slot = shared.lock().unwrap_or_else(PoisonError::into_inner);
                            match slot.open.take() {
                                Some(batch) if batch.generation == generation => batch.ids,
                                // Another batch is open (cannot happen: only this future
                                // closes its own): leave it as it is.
                                other => {
                                    slot.open = other;
                                    BTreeSet::new()
                                }
                            }
                        };
                        Arc::new(fetch(ids.into_iter().collect()).await)
                    }
                    .boxed()
                    .shared();
                    slot.open = Some(Open {
                        generation,
                        ids: BTreeSet::from([id.to_string()]),
                        answer: answer.clone(),
                    });
                    answer
                }
            }
        };
        match &*answer.await {
            Ok(found) => Ok(found.get(id).cloned()),
            Err(error) => Err(error.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    fn counting(calls: Arc<AtomicUsize>) -> Fetch<usize> {
        Box::new(move |ids: Vec<String>| {
            calls.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok(ids
                    .into_iter()
                    .filter(|id| id != "missing")
                    .map(|id| (id.clone(), id.len()))
                    .collect())
            }
            .boxed()
        })
    }

    #[tokio::test]
    async fn concurrent_lookups_make_one_describe_and_each_gets_its_own_answer() {
        let batcher: Batcher<usize> = Batcher::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let lookups =
            ["a", "bb", "ccc", "missing"].map(|id| batcher.get(id, counting(Arc::clone(&calls))));
        let answers = futures::future::join_all(lookups).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let answers: Vec<Option<usize>> = answers.into_iter().map(|a| a.unwrap_or(None)).collect();
        assert_eq!(answers, [Some(1), Some(2), Some(3), None]);
        // Once the batch has closed, the next lookup opens another.
        let later = batcher.get("dddd", counting(Arc::clone(&calls))).await;
        assert_eq!(later, Ok(Some(4)));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_error_of_the_describe_is_every_lookups_error() {
        let batcher: Batcher<usize> = Batcher::default();
        let failing = || -> Fetch<usize> {
            Box::new(|_| {
                async {
                    Err(ProviderError::Throttled {
                        code: "RequestLimitExceeded".into(),
                    })
                }
                .boxed()
            })
        };
        let (a, b) = futures::join!(batcher.get("a", failing()), batcher.get("b", failing()));
        assert!(matches!(a, Err(ProviderError::Throttled { .. })));
        assert_eq!(a, b);
    }
}
