//! An in-memory cloud for engine tests: behaves like AWS where the engine's correctness
//! depends on it (deleting something still referenced is refused, references must resolve to
//! existing ids), records calls, and can be told to fail chosen operations.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, LiveState, Progress, Provider,
    ProviderError, ReadDepth, ReplaceOrder, ResourceDiff, Scope, Step, applied_digest, diff_fields,
    plain_diff, unmanaged_address,
};
use envctl_spec::{
    Address, DesiredResource, DesiredState, ResourceKind, TAG_ADDRESS, TAG_APPLIED_DIGEST,
    TAG_ENVIRONMENT, TAG_PROJECT, Value,
};

#[derive(Default)]
pub struct FakeCloud {
    pub resources: Mutex<Vec<LiveResource>>,
    /// Untagged resources someone added by hand; only a deep read sees them.
    pub strays: Mutex<Vec<LiveResource>>,
    next_id: AtomicU64,
    pub fail: Mutex<BTreeSet<(String, Step)>>,
    pub calls: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub delay: Duration,
    /// The cloud ids each resource (by id) references, as resolved when it was last created
    /// or updated: deletes check these, like AWS, not addresses.
    references: Mutex<BTreeMap<String, Vec<String>>>,
    /// Reads to refuse, by environment (`*`: any environment), before they succeed again.
    failing_reads: Mutex<BTreeMap<String, usize>>,
}

impl FakeCloud {
    pub fn with_delay(delay: Duration) -> Self {
        FakeCloud {
            delay,
            ..FakeCloud::default()
        }
    }

    /// Makes the next `count` reads (of any environment) fail as a network error would.
    pub fn fail_reads(&self, count: usize) {
        self.fail_reads_of("*", count);
    }

    /// Makes the next `count` reads of `environment` fail as a network error would.
    pub fn fail_reads_of(&self, environment: &str, count: usize) {
        self.failing_reads
            .lock()
            .unwrap()
            .insert(environment.to_string(), count);
    }

    pub fn fail_on(&self, address: &str, step: Step) {
        self.fail
            .lock()
            .unwrap()
            .insert((address.to_string(), step));
    }

    pub fn count(&self) -> usize {
        self.resources.lock().unwrap().len()
    }

    pub fn ids_of(&self, address: &str) -> Vec<String> {
        self.resources
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.address.to_string() == address)
            .map(|r| r.id.clone())
            .collect()
    }

    /// Changes a field behind envctl's back.
    pub fn tamper(&self, address: &str, field: &str, value: Value) {
        for r in self.resources.lock().unwrap().iter_mut() {
            if r.address.to_string() == address {
                r.fields.insert(field.to_string(), value.clone());
            }
        }
    }

    /// Changes a field of one environment's resource behind envctl's back.
    pub fn tamper_in(&self, environment: &str, address: &str, field: &str, value: Value) {
        for r in self.resources.lock().unwrap().iter_mut() {
            if r.address.to_string() == address
                && r.tags.get(TAG_ENVIRONMENT).map(String::as_str) == Some(environment)
            {
                r.fields.insert(field.to_string(), value.clone());
            }
        }
    }

    /// Adds a copy of the resource at `address`, as an interrupted run could leave behind.
    pub fn duplicate(&self, address: &str) {
        let mut resources = self.resources.lock().unwrap();
        let copy = resources
            .iter()
            .find(|r| r.address.to_string() == address)
            .cloned()
            .expect("resource to duplicate");
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        resources.push(LiveResource {
            outputs: Default::default(),
            id: format!("dup-{id}"),
            ..copy
        });
    }

    /// Adds an untagged instance by hand.
    pub fn add_stray_instance(&self, id: &str) {
        self.strays.lock().unwrap().push(LiveResource {
            outputs: Default::default(),
            address: unmanaged_address(ResourceKind::Instance, id),
            kind: ResourceKind::Instance,
            id: id.to_string(),
            tags: BTreeMap::new(),
            depends_on: Vec::new(),
            fields: BTreeMap::new(),
        });
    }

    async fn enter(&self, address: &Address, step: Step) -> Result<(), ProviderError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("{} {}", step.verb(), address));
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if self
            .fail
            .lock()
            .unwrap()
            .contains(&(address.to_string(), step))
        {
            return Err(ProviderError::Rejected {
                code: "InjectedFailure".into(),
                message: format!("{} of {address} fails in this test", step.verb()),
                request_id: None,
            });
        }
        Ok(())
    }
}

fn referenced_ids(desired: &DesiredResource, ids: &CloudIds) -> Vec<String> {
    desired
        .depends_on
        .iter()
        .filter_map(|d| ids.get(d).cloned())
        .collect()
}

fn resolve(desired: &DesiredResource, ids: &CloudIds) -> Result<(), ProviderError> {
    for dependency in &desired.depends_on {
        if !ids.contains_key(dependency) {
            return Err(ProviderError::UnresolvedReference {
                address: dependency.to_string(),
            });
        }
    }
    Ok(())
}

impl Provider for FakeCloud {
    async fn read(&self, scope: &Scope, depth: ReadDepth) -> Result<LiveState, ProviderError> {
        self.calls.lock().unwrap().push("read".into());
        {
            let mut failing = self.failing_reads.lock().unwrap();
            for key in [scope.environment.as_str(), "*"] {
                if let Some(left) = failing.get_mut(key)
                    && *left > 0
                {
                    *left -= 1;
                    return Err(ProviderError::Transient {
                        message: format!("reading `{}` failed in this test", scope.environment),
                    });
                }
            }
        }
        let resources = self
            .resources
            .lock()
            .unwrap()
            .iter()
            .filter(|r| {
                r.tags.get(TAG_PROJECT) == Some(&scope.project)
                    && r.tags.get(TAG_ENVIRONMENT) == Some(&scope.environment)
            })
            .cloned()
            .collect();
        let unmanaged = match depth {
            ReadDepth::Owned => Vec::new(),
            ReadDepth::OwnedAndUnmanaged => self.strays.lock().unwrap().clone(),
        };
        let referenced = self
            .references
            .lock()
            .unwrap()
            .values()
            .flatten()
            .cloned()
            .collect();
        Ok(LiveState {
            resources,
            unmanaged,
            foreign_names: Vec::new(),
            referenced,
            conflicts: Vec::new(),
            account: None,
            region: None,
        })
    }

    fn diff(&self, desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        let replace: &[&str] = match desired.kind {
            ResourceKind::Instance => &["ami", "subnet"],
            ResourceKind::Subnet => &["cidr", "vpc", "zone"],
            ResourceKind::Vpc => &["cidr"],
            ResourceKind::DbCluster => &["storage_encrypted", "subnet"],
            _ => &[],
        };
        plain_diff(diff_fields(desired, live, replace))
    }

    fn replace_order(&self, desired: &DesiredResource, _: &LiveResource) -> ReplaceOrder {
        match desired.kind {
            ResourceKind::Instance | ResourceKind::SecurityGroup => {
                ReplaceOrder::CreateBeforeDestroy
            }
            _ => ReplaceOrder::DestroyBeforeCreate,
        }
    }

    fn repoint(&self, live: &LiveResource, target: &Address, old_id: &str) -> Option<LiveResource> {
        // Like AWS: an instance's groups move in place; nothing else does here.
        if live.kind != ResourceKind::Instance || target.kind != ResourceKind::SecurityGroup {
            return None;
        }
        let mut moved = live.clone();
        if let Some(Value::List(groups)) = moved.fields.get_mut("security_groups") {
            for group in groups.iter_mut() {
                if group.as_ref() == Some(target) {
                    *group = Value::Str(old_id.to_string());
                }
            }
        }
        Some(moved)
    }

    async fn create(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        _: &dyn Progress,
    ) -> Result<LiveResource, ProviderError> {
        self.enter(&desired.address, Step::Create).await?;
        resolve(desired, ids)?;
        let id = format!(
            "{}-{}",
            desired.kind,
            self.next_id.fetch_add(1, Ordering::SeqCst)
        );
        let mut tags = desired.tags.clone();
        tags.insert(TAG_APPLIED_DIGEST.into(), applied_digest(&desired.fields));
        self.references
            .lock()
            .unwrap()
            .insert(id.clone(), referenced_ids(desired, ids));
        let live = LiveResource {
            outputs: Default::default(),
            address: desired.address.clone(),
            kind: desired.kind,
            id,
            tags,
            depends_on: desired.depends_on.clone(),
            fields: desired.fields.clone(),
        };
        self.resources.lock().unwrap().push(live.clone());
        Ok(live)
    }

    async fn update(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        _changes: &[FieldChange],
        ids: &CloudIds,
        _: &dyn Progress,
    ) -> Result<LiveResource, ProviderError> {
        self.enter(&desired.address, Step::Update).await?;
        resolve(desired, ids)?;
        let mut resources = self.resources.lock().unwrap();
        let target = resources
            .iter_mut()
            .find(|r| r.id == live.id)
            .ok_or_else(|| ProviderError::NotFound {
                what: live.id.clone(),
            })?;
        target.fields = desired.fields.clone();
        target.depends_on = desired.depends_on.clone();
        self.references
            .lock()
            .unwrap()
            .insert(live.id.clone(), referenced_ids(desired, ids));
        target.tags.extend(desired.tags.clone());
        target
            .tags
            .insert(TAG_APPLIED_DIGEST.into(), applied_digest(&desired.fields));
        Ok(target.clone())
    }

    async fn delete(
        &self,
        live: &LiveResource,
        _: DeleteOptions,
        _: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.enter(&live.address, Step::Delete).await?;
        let mut resources = self.resources.lock().unwrap();
        let references = self.references.lock().unwrap();
        let still_referenced = resources.iter().any(|r| {
            r.id != live.id
                && references
                    .get(&r.id)
                    .is_some_and(|targets| targets.contains(&live.id))
        });
        drop(references);
        if still_referenced {
            return Err(ProviderError::Rejected {
                code: "DependencyViolation".into(),
                message: format!("{} is still referenced", live.address),
                request_id: None,
            });
        }
        resources.retain(|r| r.id != live.id);
        self.strays.lock().unwrap().retain(|r| r.id != live.id);
        Ok(())
    }

    async fn unmodelled(&self, _vpc: &str) -> Result<Vec<String>, ProviderError> {
        // The fake cloud holds only the kinds envctl models.
        Ok(Vec::new())
    }

    async fn adopt(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
    ) -> Result<LiveResource, ProviderError> {
        self.strays.lock().unwrap().retain(|r| r.id != live.id);
        let adopted = LiveResource {
            address: desired.address.clone(),
            tags: desired.tags.clone(),
            ..live.clone()
        };
        let mut resources = self.resources.lock().unwrap();
        resources.retain(|r| r.id != live.id);
        resources.push(adopted.clone());
        Ok(adopted)
    }
}

/// Adds a DB cluster in `subnet.a`, guarded by the app group, to `state`.
pub fn with_database(mut state: DesiredState, deletion_protection: bool) -> DesiredState {
    let environment = state.environment.clone();
    let address = Address::new(ResourceKind::DbCluster, "main");
    let subnet = Address::new(ResourceKind::Subnet, "a");
    let tags = BTreeMap::from([
        (TAG_PROJECT.to_string(), "app".to_string()),
        (TAG_ENVIRONMENT.to_string(), environment.clone()),
        (TAG_ADDRESS.to_string(), address.to_string()),
    ]);
    state.resources.push(DesiredResource {
        kind: address.kind,
        cloud_name: format!("app-{environment}-main"),
        address,
        tags,
        depends_on: vec![subnet.clone()],
        fields: BTreeMap::from([
            ("subnet".to_string(), Value::Ref(subnet.clone())),
            ("storage_encrypted".to_string(), Value::Bool(true)),
            (
                "deletion_protection".to_string(),
                Value::Bool(deletion_protection),
            ),
        ]),
        span: Default::default(),
    });
    state
}

/// A small environment built by hand: a VPC, two subnets, a group, `instances` instances
/// spread over the subnets.
pub fn environment(environment: &str, instances: u32, instance_type: &str) -> DesiredState {
    let mut resources = Vec::new();
    let mut add = |address: Address, depends_on: Vec<Address>, fields: Vec<(&str, Value)>| {
        let cloud_name = format!("app-{environment}-{}", address.name);
        let tags = BTreeMap::from([
            (TAG_PROJECT.to_string(), "app".to_string()),
            (TAG_ENVIRONMENT.to_string(), environment.to_string()),
            (TAG_ADDRESS.to_string(), address.to_string()),
        ]);
        resources.push(DesiredResource {
            kind: address.kind,
            address,
            cloud_name,
            tags,
            depends_on,
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
            span: Default::default(),
        });
    };
    let vpc = Address::new(ResourceKind::Vpc, "main");
    let subnets = [
        Address::new(ResourceKind::Subnet, "a"),
        Address::new(ResourceKind::Subnet, "b"),
    ];
    let group = Address::new(ResourceKind::SecurityGroup, "app");
    add(
        vpc.clone(),
        vec![],
        vec![("cidr", Value::Str("10.0.0.0/16".into()))],
    );
    for (i, subnet) in subnets.iter().enumerate() {
        add(
            subnet.clone(),
            vec![vpc.clone()],
            vec![
                ("cidr", Value::Str(format!("10.0.{}.0/24", i + 1))),
                ("vpc", Value::Ref(vpc.clone())),
            ],
        );
    }
    add(
        group.clone(),
        vec![vpc.clone()],
        vec![("vpc", Value::Ref(vpc.clone()))],
    );
    for i in 0..instances {
        let subnet = subnets[i as usize % 2].clone();
        add(
            Address::indexed(ResourceKind::Instance, "app", i),
            vec![group.clone(), subnet.clone()],
            vec![
                ("ami", Value::Str("ami-12345678".into())),
                ("instance_type", Value::Str(instance_type.into())),
                ("subnet", Value::Ref(subnet.clone())),
            ],
        );
    }
    DesiredState {
        project: "app".into(),
        environment: environment.into(),
        region: "us-east-1".into(),
        account_id: None,
        parity_digest: "sha256:test".into(),
        protected: false,
        promote_from: None,
        lock_bucket: None,
        spec_environments: vec!["staging".into(), "production".into()],
        resources,
    }
}

/// A small spec of two environments, `production` promoted from `staging`, with one declared
/// difference (`instance.app`'s `monitoring`) expiring on 2027-06-30.
pub const GATED_SPEC: &str = r#"
[project]
name = "gated"
region = "us-east-1"

[environments.staging]
instance.app = { instance_type = "t3.small", count = 1 }

[environments.production]
promote_from = "staging"
require_verified = false
instance.app = { instance_type = "t3.large", count = 2 }

[[differences]]
resource = "instance.app"
field = "monitoring"
values = { staging = false, production = true }
reason = "Detailed monitoring costs money"
risk = "Staging alarms are coarser"
owner = "platform-team"
expires = 2027-06-30

[vpc.main]
cidr = "10.0.0.0/16"

[subnet.a]
vpc = "main"
cidr = "10.0.1.0/24"
zone = "us-east-1a"

[security_group.app]
vpc = "main"
description = "app servers"
ingress = [{ protocol = "tcp", ports = "443", cidr = "10.0.0.0/8" }]

[instance.app]
ami = "ami-0c55b159cbfafe1f0"
instance_type = "t3.medium"
count = 1
subnets = ["a"]
security_groups = ["app"]
monitoring = true
"#;

/// A date of the form `YYYY-MM-DD`.
pub fn date(text: &str) -> envctl_spec::CivilDate {
    text.parse().unwrap()
}

/// [`GATED_SPEC`], checked as of 2027-01-01 (before its difference expires).
pub fn gated_spec() -> envctl_spec::Spec {
    let source = envctl_spec::SourceFile::new("envctl.toml", GATED_SPEC);
    envctl_spec::check(&source, date("2027-01-01"))
        .spec
        .unwrap()
}

/// [`GATED_SPEC`] with the default `require_verified`: production also needs staging verified.
pub fn verified_spec() -> envctl_spec::Spec {
    let text = GATED_SPEC.replace("require_verified = false\n", "");
    let source = envctl_spec::SourceFile::new("envctl.toml", &text);
    envctl_spec::check(&source, date("2027-01-01"))
        .spec
        .unwrap()
}

/// A reporter that records the events it receives, one line each.
#[derive(Default)]
pub struct Recorder {
    pub events: Mutex<Vec<String>>,
}

impl Recorder {
    pub fn lines(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }

    pub fn has(&self, prefix: &str) -> bool {
        self.lines().iter().any(|l| l.starts_with(prefix))
    }
}

impl envctl_engine::Reporter for Recorder {
    fn on_start(&self, _: &Address, _: envctl_engine::Action, _: Step) {}
    fn on_finish(&self, _: &envctl_engine::OperationReport) {}
    fn on_event(&self, event: &envctl_engine::ops::Event<'_>) {
        use envctl_engine::ops::Event;
        let line = match event {
            Event::Planned { plan, .. } => format!("planned {}", plan.changes.len()),
            Event::Applied { report, .. } => format!("applied {}", report.succeeded()),
            Event::Locked { lock } => format!("locked {}", lock.environment),
            Event::Released { lock } => format!("released {}", lock.environment),
            Event::Drift { report } => {
                format!("drift {} {}", report.environment, report.drift.len())
            }
            Event::ReadFailed { error, retry_in } => {
                format!(
                    "read failed {:?} {}s",
                    error.environments,
                    retry_in.as_secs()
                )
            }
            Event::NextPass { after } => format!("next pass {}s", after.as_secs()),
            other => format!("{other:?}"),
        };
        self.events.lock().unwrap().push(line);
    }
}

/// Locks in memory, with the semantics of the S3 store: one holder per environment, released
/// by id, force-unlocked by id; a held lock is waited for up to the timeout.
#[derive(Default)]
pub struct FakeLocks {
    pub held: Mutex<BTreeMap<(String, String), envctl_engine::ops::LockInfo>>,
    /// Recorded verifications by (project, environment), oldest first.
    pub verifications: Mutex<BTreeMap<(String, String), Vec<envctl_engine::ops::Verification>>>,
    next: AtomicU64,
    pub acquired: AtomicUsize,
}

impl FakeLocks {
    /// Makes `holder` (someone else) hold the lock of `environment`.
    pub fn hold_elsewhere(&self, project: &str, environment: &str, id: &str) {
        self.held.lock().unwrap().insert(
            (project.to_string(), environment.to_string()),
            lock_info(id, "someone@elsewhere"),
        );
    }

    pub fn is_locked(&self, project: &str, environment: &str) -> bool {
        self.held
            .lock()
            .unwrap()
            .contains_key(&(project.to_string(), environment.to_string()))
    }
}

fn lock_info(id: &str, holder: &str) -> envctl_engine::ops::LockInfo {
    envctl_engine::ops::LockInfo {
        id: id.to_string(),
        holder: holder.to_string(),
        host: "test".to_string(),
        pid: 1,
        command: "envctl test".to_string(),
        since_unix: 0,
        process_space: None,
    }
}

impl envctl_engine::ops::LockStore for FakeLocks {
    async fn acquire(
        &self,
        project: &str,
        environment: &str,
        timeout: Duration,
    ) -> Result<envctl_engine::ops::HeldLock, envctl_engine::ops::LockError> {
        let key = (project.to_string(), environment.to_string());
        let started = std::time::Instant::now();
        loop {
            let taken = {
                let mut held = self.held.lock().unwrap();
                match held.get(&key) {
                    Some(holder) => Err(holder.clone()),
                    None => {
                        let id = format!("lock-{}", self.next.fetch_add(1, Ordering::SeqCst));
                        let info = lock_info(&id, "me@here");
                        held.insert(key.clone(), info.clone());
                        Ok(info)
                    }
                }
            };
            match taken {
                Ok(info) => {
                    self.acquired.fetch_add(1, Ordering::SeqCst);
                    return Ok(envctl_engine::ops::HeldLock {
                        project: project.to_string(),
                        environment: environment.to_string(),
                        info,
                        took_over: None,
                    });
                }
                Err(holder) if started.elapsed() >= timeout => {
                    return Err(envctl_engine::ops::LockError::Held {
                        environment: environment.to_string(),
                        holder,
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    }

    async fn release(
        &self,
        lock: &envctl_engine::ops::HeldLock,
    ) -> Result<(), envctl_engine::ops::LockError> {
        let mut held = self.held.lock().unwrap();
        let key = (lock.project.clone(), lock.environment.clone());
        if held.get(&key).is_some_and(|h| h.id == lock.info.id) {
            held.remove(&key);
        }
        Ok(())
    }

    async fn holder(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<Option<envctl_engine::ops::LockInfo>, envctl_engine::ops::LockError> {
        Ok(self
            .held
            .lock()
            .unwrap()
            .get(&(project.to_string(), environment.to_string()))
            .cloned())
    }

    async fn force_unlock(
        &self,
        project: &str,
        environment: &str,
        lock_id: &str,
    ) -> Result<envctl_engine::ops::LockInfo, envctl_engine::ops::LockError> {
        let mut held = self.held.lock().unwrap();
        let key = (project.to_string(), environment.to_string());
        match held.get(&key) {
            None => Err(envctl_engine::ops::LockError::NotLocked {
                environment: environment.to_string(),
            }),
            Some(holder) if holder.id != lock_id => Err(envctl_engine::ops::LockError::WrongId {
                environment: environment.to_string(),
                given: lock_id.to_string(),
                holder: holder.clone(),
            }),
            Some(_) => Ok(held.remove(&key).unwrap()),
        }
    }

    async fn record_verification(
        &self,
        project: &str,
        environment: &str,
        verification: &envctl_engine::ops::Verification,
    ) -> Result<(), envctl_engine::ops::LockError> {
        self.verifications
            .lock()
            .unwrap()
            .entry((project.to_string(), environment.to_string()))
            .or_default()
            .push(verification.clone());
        Ok(())
    }

    async fn verifications(
        &self,
        project: &str,
        environment: &str,
    ) -> Result<Vec<envctl_engine::ops::Verification>, envctl_engine::ops::LockError> {
        let mut found = self
            .verifications
            .lock()
            .unwrap()
            .get(&(project.to_string(), environment.to_string()))
            .cloned()
            .unwrap_or_default();
        found.reverse();
        Ok(found)
    }
}

/// A front end for tests: answers the confirmation as told, records the events, and can run
/// something while "the person thinks" (between the question and the answer).
#[derive(Default)]
pub struct Answers<'a> {
    /// Whether a person is asked (then the lock is taken after the answer).
    pub asks: bool,
    /// The answer.
    pub no: bool,
    pub recorder: Recorder,
    pub approvals: AtomicUsize,
    pub while_asking: Option<Box<dyn Fn() + Sync + 'a>>,
}

impl Answers<'_> {
    /// Says yes without asking anyone (`--yes` without a terminal).
    pub fn yes() -> Self {
        Answers::default()
    }

    pub fn lines(&self) -> Vec<String> {
        self.recorder.lines()
    }
}

impl envctl_engine::Reporter for Answers<'_> {
    fn on_start(&self, _: &Address, _: envctl_engine::Action, _: Step) {}
    fn on_finish(&self, _: &envctl_engine::OperationReport) {}
    fn on_event(&self, event: &envctl_engine::ops::Event<'_>) {
        self.recorder.on_event(event);
    }
}

impl envctl_engine::ops::Frontend for Answers<'_> {
    type Error = String;

    fn asks_a_person(&self) -> bool {
        self.asks
    }

    fn approve(&self, _: &envctl_engine::ops::Approval<'_>) -> Result<bool, String> {
        self.approvals.fetch_add(1, Ordering::SeqCst);
        if let Some(think) = &self.while_asking {
            think();
        }
        self.recorder
            .events
            .lock()
            .unwrap()
            .push("approved?".into());
        Ok(!self.no)
    }
}

/// A session over the fake cloud and locks, dated 2027-01-01.
pub fn session<'a, F>(
    cloud: &'a FakeCloud,
    locks: &'a FakeLocks,
    frontend: &'a F,
) -> envctl_engine::ops::Session<'a, FakeCloud, FakeLocks, F> {
    envctl_engine::ops::Session {
        environments: cloud,
        locks,
        frontend,
        today: date("2027-01-01"),
    }
}
