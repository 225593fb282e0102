//! The AWS provider: EC2 (VPC, subnets, security groups, instances), RDS (DB subnet
//! groups, Aurora clusters and their instances), CloudWatch Logs (log groups), SSM
//! (parameters) and CloudWatch (alarms, dashboards) through aws-sdk-rust; the Resource Groups
//! Tagging API reads the tags of every alarm in one listing.
//!
//! Owns [`AwsSettings`] (how to reach AWS), [`AwsProvider`] and its [`Provider`] impl, which
//! dispatches each kind to its module in [`kinds`] (what EC2 kinds and RDS kinds share lives
//! in [`ec2`] and [`rds`]). Invariants: live state is read by ownership
//! tags, one paginated describe per kind, all kinds at once (a DB subnet group or parameter
//! group named outside the environment's naming, adopted, is then asked for by the name its
//! cluster uses); an import's read ([`Scope::network`]) reads the kinds that live in a VPC
//! by the VPC instead, everything in it, and log groups and parameters by the environment's
//! path, whoever made them, and changes nothing; every create passes its tags in
//! the create call itself; retries and backoff belong to the SDK's retry layer, configured
//! here once, never to individual operations; every AWS call is logged (at debug level) by
//! one interceptor, `trace::CallLog`, never by individual operations. A provider reaches one
//! environment: its region, its credentials (a role assumed for every call when the
//! environment has `role_arn`), and, when the environment names its account, nothing but
//! STS's identity question is asked before the account is proven (`check_account`, first in
//! every read, change and lock operation).

mod batch;
mod budget;
mod ec2;
mod error;
mod kinds;
pub mod lock;
mod once;
mod pace;
mod rds;
mod rules;
mod trace;
mod verifications;
mod wait;

pub use kinds::instance::STATE_FIELD as INSTANCE_STATE_FIELD;
pub use trace::{RetryNotice, RetryObserver};
pub use wait::Timeouts;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, LiveState, Progress, Provider,
    ProviderError, ReadDepth, ReplaceOrder, ResourceDiff, Scope, unmanaged_address,
};
use envctl_spec::{
    Address, DesiredResource, Peer, ResourceKind, Rule, TAG_ADDRESS, TAG_APPLIED_DIGEST, Value,
};

use kinds::{AwsKind, KindRead, dispatch};

/// How to reach AWS. Unset fields fall back to the standard AWS chain (environment variables,
/// profiles, SSO, instance metadata); `AWS_ENDPOINT_URL` is honoured as usual.
#[derive(Debug, Clone)]
pub struct AwsSettings {
    /// The region to use (the spec's region unless `--region` overrides it).
    pub region: String,
    /// A named profile from the shared config files.
    pub profile: Option<String>,
    /// Another endpoint for every service: a local emulator, LocalStack, a VPC endpoint.
    pub endpoint_url: Option<String>,
    /// Attempts per request, first one included, for throttling and transient errors.
    pub max_attempts: u32,
    /// Backoff before the first retry; doubles (with jitter) for each further one. `None`:
    /// the mode's own ([`INITIAL_BACKOFF_PACED`] with paced sending, else [`INITIAL_BACKOFF`]).
    pub initial_backoff: Option<Duration>,
    /// How long to wait for a resource to become usable or go away, by kind.
    pub waits: Timeouts,
    /// Requests per second at most, per service (EC2, RDS, S3 each), retries included: a
    /// ceiling, whatever the paced sending rate.
    pub max_requests_per_second: Option<f64>,
    /// Paced sending (on by default): each service's reads and changes are sent at a rate
    /// that throttle answers cut and quiet answers raise again ([`pace`]), on top of each
    /// call's backoff; off: only each call's own exponential backoff.
    pub paced_sending: bool,
    /// A role to assume (STS AssumeRole) for every call, with the credentials above as the
    /// caller's.
    pub assume_role: Option<AssumeRole>,
    /// The account the environment lives in: before any other call the provider asks STS who
    /// the credentials are, and refuses every call when the account differs.
    pub expected_account: Option<ExpectedAccount>,
    /// Told before each retry of a call (the CLI prints `retrying DescribeVpcs (3/10) after
    /// throttling`).
    pub on_retry: Option<RetryObserver>,
}

/// A role every call is made as (`role_arn` of an environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    pub role_arn: String,
    /// The external id the role's trust policy asks for, if any.
    pub external_id: Option<String>,
    /// The session name CloudTrail shows (`envctl` unless given).
    pub session_name: Option<String>,
}

/// The account an environment lives in, and the environment's name (for the refusal).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAccount {
    pub environment: String,
    pub account_id: String,
}

/// Who the credentials are, as STS says (GetCallerIdentity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub account: String,
    /// The caller's ARN: a user, or an assumed role's session.
    pub arn: String,
}

impl AwsSettings {
    /// The defaults for `region`: 10 attempts (so that a heavily throttled account still
    /// converges), 50 ms initial backoff, paced sending, waits sized per kind
    /// ([`Timeouts::default`]).
    pub fn new(region: impl Into<String>) -> Self {
        AwsSettings {
            region: region.into(),
            profile: None,
            endpoint_url: None,
            max_attempts: 10,
            initial_backoff: None,
            waits: Timeouts::default(),
            max_requests_per_second: None,
            paced_sending: true,
            assume_role: None,
            expected_account: None,
            on_retry: None,
        }
    }
}

/// Attempts per call (first included), the backoff before the first retry and the longest.
#[derive(Debug, Clone, Copy)]
struct Retries {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

/// The first pause before a call is tried again, each call on its own (`--retry-mode
/// standard`).
const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
/// The same with paced sending (the default): the family's pace meets AWS's request limits,
/// a call's own backoff only spaces its attempts.
const INITIAL_BACKOFF_PACED: Duration = Duration::from_millis(50);

/// The longest pause between two attempts of one call, each call on its own (`--retry-mode
/// standard`).
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The same with paced sending: the family's pace does the slowing down, so a call that was
/// unlucky is tried again sooner.
const MAX_BACKOFF_PACED: Duration = Duration::from_secs(2);

/// The AWS implementation of the engine's provider trait.
#[derive(Debug, Clone)]
pub struct AwsProvider {
    ec2: aws_sdk_ec2::Client,
    rds: aws_sdk_rds::Client,
    logs: aws_sdk_cloudwatchlogs::Client,
    cloudwatch: aws_sdk_cloudwatch::Client,
    /// The Resource Groups Tagging API: the tags of many alarms in one listing.
    tagging: aws_sdk_resourcegroupstagging::Client,
    ssm: aws_sdk_ssm::Client,
    s3: aws_sdk_s3::Client,
    sts: aws_sdk_sts::Client,
    region: String,
    waits: Timeouts,
    /// Attempts and backoff for the calls whose retries envctl owns (creates).
    retries: Retries,
    /// Distinguishes this run's idempotency tokens from earlier runs', so a token never
    /// resurrects what an earlier run made and someone deleted since.
    run_nonce: String,
    /// The account every call must be made in, if the environment names one.
    expected_account: Option<ExpectedAccount>,
    /// STS's answer about the credentials, asked once per provider (clones share it).
    identity: std::sync::Arc<tokio::sync::OnceCell<Result<Identity, ProviderError>>>,
    /// The run states of instances being waited for, read together (see [`batch`]).
    instance_states: batch::Batcher<aws_sdk_ec2::types::InstanceStateName>,
    /// The DB clusters being waited for, read together.
    clusters: batch::Batcher<aws_sdk_rds::types::DbCluster>,
    /// The DB instances being waited for, read together.
    db_instances: batch::Batcher<aws_sdk_rds::types::DbInstance>,
    /// The ARNs of alarms being made, looked up together.
    alarm_arns: batch::Batcher<String>,
    /// The sending rates of paced sending (`None`: off), which creates backing off tell of
    /// their calls.
    pacing: Option<std::sync::Arc<pace::SendingRates>>,
}

impl AwsProvider {
    /// Loads the AWS configuration (credentials are resolved lazily, on the first call).
    pub async fn connect(settings: &AwsSettings) -> Self {
        let (default_backoff, max_backoff) = if settings.paced_sending {
            (INITIAL_BACKOFF_PACED, MAX_BACKOFF_PACED)
        } else {
            (INITIAL_BACKOFF, MAX_BACKOFF)
        };
        let initial_backoff = settings.initial_backoff.unwrap_or(default_backoff);
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()))
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(settings.max_attempts.max(1))
                    .with_initial_backoff(initial_backoff)
                    .with_max_backoff(max_backoff),
            )
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(10))
                    // An attempt's answer is timed in `budget` once the request is sent (a
                    // paced request may wait for its turn first); its body as it is read.
                    .read_timeout(budget::ATTEMPT_TIMEOUT)
                    .build(),
            );
        if let Some(profile) = &settings.profile {
            loader = loader.profile_name(profile);
        }
        if let Some(endpoint) = &settings.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        let endpoint = settings
            .endpoint_url
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
        let plain_http = endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("http://"));
        if plain_http {
            // A local emulator: skip TLS set-up (loading the system's root certificates costs
            // tens of milliseconds per run) in every client the configuration builds.
            loader = loader.http_client(budget::transport(true));
        }
        let config = loader.load().await;
        let config = match &settings.assume_role {
            Some(role) => {
                // The base credentials call AssumeRole; every client then uses the role's.
                let mut builder = aws_config::sts::AssumeRoleProvider::builder(&role.role_arn)
                    .configure(&config)
                    .region(aws_config::Region::new(settings.region.clone()))
                    .session_name(role.session_name.as_deref().unwrap_or("envctl"));
                if let Some(external_id) = &role.external_id {
                    builder = builder.external_id(external_id);
                }
                let assumed = builder.build().await;
                config
                    .into_builder()
                    .credentials_provider(aws_sdk_sts::config::SharedCredentialsProvider::new(
                        assumed,
                    ))
                    .build()
            }
            None => config,
        };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        // Emulators and VPC endpoints serve buckets by path, not by virtual host.
        let custom_endpoint =
            endpoint.is_some() || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some();
        let call_log = trace::CallLog::new(settings.on_retry.clone(), settings.max_attempts.max(1));
        let pacing = settings
            .paced_sending
            .then(|| std::sync::Arc::new(pace::SendingRates::default()));
        // One HTTP client, and so one budget, per service: AWS throttles each on its own. The
        // pacer names each attempt's family for the client and hears its answer.
        let rate = settings.max_requests_per_second;
        let transport = budget::transport(plain_http);
        let http = || budget::http_client(transport.clone(), rate, pacing.clone());
        let pacer = pacing.clone().map(pace::Pacer::new);
        macro_rules! service_config {
            ($builder:expr) => {{
                let mut builder = $builder.interceptor(call_log.clone()).http_client(http());
                if let Some(pacer) = &pacer {
                    builder = builder.interceptor(pacer.clone());
                }
                builder
            }};
        }
        let ec2_config = service_config!(aws_sdk_ec2::config::Builder::from(&config));
        let rds_config = service_config!(aws_sdk_rds::config::Builder::from(&config));
        let s3_config = service_config!(
            aws_sdk_s3::config::Builder::from(&config).force_path_style(custom_endpoint)
        );
        let logs_config = service_config!(aws_sdk_cloudwatchlogs::config::Builder::from(&config));
        let cloudwatch_config = service_config!(aws_sdk_cloudwatch::config::Builder::from(&config));
        let tagging_config = service_config!(aws_sdk_resourcegroupstagging::config::Builder::from(
            &config
        ));
        let ssm_config = service_config!(aws_sdk_ssm::config::Builder::from(&config));
        let sts_config = service_config!(aws_sdk_sts::config::Builder::from(&config));
        AwsProvider {
            ec2: aws_sdk_ec2::Client::from_conf(ec2_config.build()),
            rds: aws_sdk_rds::Client::from_conf(rds_config.build()),
            logs: aws_sdk_cloudwatchlogs::Client::from_conf(logs_config.build()),
            ssm: aws_sdk_ssm::Client::from_conf(ssm_config.build()),
            cloudwatch: aws_sdk_cloudwatch::Client::from_conf(cloudwatch_config.build()),
            tagging: aws_sdk_resourcegroupstagging::Client::from_conf(tagging_config.build()),
            s3: aws_sdk_s3::Client::from_conf(s3_config.build()),
            sts: aws_sdk_sts::Client::from_conf(sts_config.build()),
            region: settings.region.clone(),
            waits: settings.waits,
            retries: Retries {
                max_attempts: settings.max_attempts,
                initial_backoff,
                max_backoff,
            },
            run_nonce: format!("{nanos:x}-{}", std::process::id()),
            expected_account: settings.expected_account.clone(),
            identity: std::sync::Arc::default(),
            instance_states: batch::Batcher::default(),
            clusters: batch::Batcher::default(),
            db_instances: batch::Batcher::default(),
            alarm_arns: batch::Batcher::default(),
            pacing,
        }
    }
}

impl AwsProvider {
    /// Who the credentials are (STS GetCallerIdentity, asked once; after the role is
    /// assumed when there is one).
    pub async fn identity(&self) -> Result<Identity, ProviderError> {
        self.identity
            .get_or_init(|| async {
                let out = self
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(|e| error::classify(e, "the caller's identity"))?;
                match (out.account(), out.arn()) {
                    (Some(account), arn) => Ok(Identity {
                        account: account.to_string(),
                        arn: arn.unwrap_or_default().to_string(),
                    }),
                    (None, _) => Err(ProviderError::Rejected {
                        code: "MissingAccount".into(),
                        message: "STS named no account for these credentials".into(),
                        request_id: None,
                    }),
                }
            })
            .await
            .clone()
    }

    /// The account the credentials act in.
    pub async fn account_id(&self) -> Result<String, ProviderError> {
        Ok(self.identity().await?.account)
    }

    /// Refuses, with no call but STS's, credentials for another account than the
    /// environment's (when it names one). Every operation of the provider passes here first.
    pub async fn check_account(&self) -> Result<(), ProviderError> {
        let Some(expected) = &self.expected_account else {
            return Ok(());
        };
        let identity = self.identity().await?;
        if identity.account == expected.account_id {
            return Ok(());
        }
        Err(ProviderError::WrongAccount {
            environment: expected.environment.clone(),
            expected: expected.account_id.clone(),
            actual: identity.account,
        })
    }

    /// The region this provider works in.
    pub fn region(&self) -> &str {
        &self.region
    }
}

impl Provider for AwsProvider {
    async fn read(&self, scope: &Scope, depth: ReadDepth) -> Result<LiveState, ProviderError> {
        self.check_account().await?;
        // Every kind's read at once, each its own describe; beside them, the account (it goes
        // into the plan: a saved plan is carried out only there; asked once per run). An
        // import reads only the kinds that live in a VPC.
        let reads = ResourceKind::ALL.map(|kind| -> BoxedCall<'_, KindRead> {
            if scope.network.is_some() && !kinds::imported(kind) {
                return Box::pin(async { Ok(KindRead::default()) });
            }
            dispatch!(kind, K => Box::pin(K::read(self, scope)))
        });
        let (account, reads) =
            futures::try_join!(self.account_id(), futures::future::try_join_all(reads))?;
        let mut resources = Vec::new();
        let mut conflicts = Vec::new();
        let mut foreign_names = Vec::new();
        for read in reads {
            resources.extend(read.resources);
            conflicts.extend(read.conflicts);
            foreign_names.extend(read.foreign_names);
        }
        if scope.network.is_none() {
            resources.extend(self.read_adopted_groups(&resources, scope).await?);
        }
        let mut unmanaged = match depth {
            ReadDepth::Owned => Vec::new(),
            ReadDepth::OwnedAndUnmanaged if scope.network.is_none() => {
                self.read_unmanaged(&resources).await?
            }
            // An import's read already holds everything in the network.
            ReadDepth::OwnedAndUnmanaged => Vec::new(),
        };
        let owned = resources.len();
        resources.append(&mut unmanaged);
        let referenced = resolve_references(&mut resources);
        let unmanaged = resources.split_off(owned);
        let owned_ids: Vec<(Address, String)> = resources
            .iter()
            .map(|r| (r.address.clone(), r.id.clone()))
            .collect();
        for resource in &mut resources {
            kinds::settle(resource, &owned_ids);
        }
        if scope.network.is_none() {
            conflicts.extend(prove_placement(&mut resources));
        }
        Ok(LiveState {
            resources,
            unmanaged,
            foreign_names,
            referenced,
            conflicts,
            account: Some(account),
            region: Some(self.region.clone()),
        })
    }

    fn diff(&self, desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        dispatch!(desired.kind, K => K::diff(desired, live))
    }

    fn replace_order(&self, desired: &DesiredResource, live: &LiveResource) -> ReplaceOrder {
        dispatch!(desired.kind, K => K::replace_order(desired, live))
    }

    fn repoint(&self, live: &LiveResource, target: &Address, old_id: &str) -> Option<LiveResource> {
        let fields = dispatch!(live.kind, K => K::repointable_fields(target.kind));
        if fields.is_empty() {
            return None;
        }
        // What names the replaced copy names it by its old id from now on, so that the
        // resource differs from the spec and is moved to the new copy.
        let rewrite = |item: &Value| match item {
            Value::Ref(address) if address == target => Value::Str(old_id.to_string()),
            Value::Rule(rule) if rule.group() == Some(target) => Value::Rule(Rule {
                peer: Peer::ForeignGroup(old_id.to_string()),
                ..rule.clone()
            }),
            other => other.clone(),
        };
        let mut moved = live.clone();
        for field in fields {
            let rewritten = match moved.fields.get(*field) {
                Some(Value::List(items)) => {
                    Value::set(items.iter().map(rewrite).collect::<Vec<_>>())
                }
                Some(single) => rewrite(single),
                None => continue,
            };
            moved.fields.insert((*field).to_string(), rewritten);
        }
        Some(moved)
    }

    async fn create(
        &self,
        desired: &DesiredResource,
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<LiveResource, ProviderError> {
        self.check_account().await?;
        // Boxed, like every kind's future here: the kinds' futures nest deep (waits inside
        // retries inside creates), and the engine's apply nests them again.
        let create: BoxedCall<'_, String> =
            dispatch!(desired.kind, K => Box::pin(K::create(self, desired, ids, progress)));
        let id = create.await?;
        Ok(applied(desired, id))
    }

    async fn update(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        ids: &CloudIds,
        progress: &dyn Progress,
    ) -> Result<LiveResource, ProviderError> {
        self.check_account().await?;
        let update: BoxedCall<'_, ()> = dispatch!(desired.kind, K => Box::pin(async move {
            K::update(self, desired, live, changes, ids, progress).await?;
            // Tags go last: the applied digest must only claim what was actually applied.
            K::tag(self, desired, live).await
        }));
        update.await?;
        Ok(applied(desired, live.id.clone()))
    }

    async fn delete(
        &self,
        live: &LiveResource,
        options: DeleteOptions,
        progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        self.check_account().await?;
        let delete: BoxedCall<'_, ()> =
            dispatch!(live.kind, K => Box::pin(K::delete(self, live, options, progress)));
        match delete.await {
            Err(ProviderError::NotFound { .. }) => Ok(()),
            other => other,
        }
    }

    async fn unmodelled(&self, vpc: &str) -> Result<Vec<String>, ProviderError> {
        self.check_account().await?;
        self.unmodelled_in(vpc).await
    }

    async fn adopt(
        &self,
        desired: &DesiredResource,
        live: &LiveResource,
    ) -> Result<LiveResource, ProviderError> {
        self.check_account().await?;
        let tag: BoxedCall<'_, ()> =
            dispatch!(desired.kind, K => Box::pin(K::tag(self, desired, live)));
        tag.await?;
        Ok(LiveResource {
            address: desired.address.clone(),
            tags: tags_to_apply(desired),
            ..live.clone()
        })
    }
}

/// One kind's operation, boxed: so that all kinds' reads can run at once, and so that the
/// futures of operations stay shallow types.
type BoxedCall<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, ProviderError>> + Send + 'a>>;

impl AwsProvider {
    /// The DB subnet groups and parameter groups that owned clusters use but that are named
    /// outside the environment's naming (made by hand, then adopted): the listings carry no
    /// tags, so only groups named like the environment's are asked for theirs; these are
    /// asked for by name. No call when every group has the environment's naming.
    async fn read_adopted_groups(
        &self,
        read: &[LiveResource],
        scope: &Scope,
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let prefix = rds::name_prefix(scope);
        let mut wanted: Vec<(ResourceKind, String)> = Vec::new();
        for cluster in read.iter().filter(|r| r.kind == ResourceKind::DbCluster) {
            for (field, kind) in [
                ("subnet_group", ResourceKind::DbSubnetGroup),
                ("parameter_group", ResourceKind::DbClusterParameterGroup),
            ] {
                let Some(Value::Str(name)) = cluster.fields.get(field) else {
                    continue;
                };
                let known = read.iter().any(|r| r.kind == kind && &r.id == name);
                if known || name.starts_with(&prefix) || name.starts_with("default") {
                    continue;
                }
                if !wanted.contains(&(kind, name.clone())) {
                    wanted.push((kind, name.clone()));
                }
            }
        }
        let reads = wanted
            .iter()
            .map(|(kind, name)| -> BoxedCall<'_, Option<LiveResource>> {
                match kind {
                    ResourceKind::DbSubnetGroup => Box::pin(
                        kinds::db_subnet_group::DbSubnetGroup::read_named(self, name, scope),
                    ),
                    _ => Box::pin(
                        kinds::db_cluster_parameter_group::DbClusterParameterGroup::read_named(
                            self, name, scope,
                        ),
                    ),
                }
            });
        Ok(futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// What sits inside the owned VPCs without envctl's tags, every kind at once.
    async fn read_unmanaged(
        &self,
        owned: &[LiveResource],
    ) -> Result<Vec<LiveResource>, ProviderError> {
        let vpc_ids: Vec<String> = owned
            .iter()
            .filter(|r| r.kind == ResourceKind::Vpc)
            .map(|r| r.id.clone())
            .collect();
        if vpc_ids.is_empty() {
            return Ok(Vec::new());
        }
        let vpc_ids = &vpc_ids;
        let reads = ResourceKind::ALL.map(|kind| -> BoxedCall<'_, Vec<LiveResource>> {
            dispatch!(kind, K => Box::pin(K::read_unmanaged(self, vpc_ids)))
        });
        Ok(futures::future::try_join_all(reads)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }
}

/// The live resource a successful create or update leaves behind.
fn applied(desired: &DesiredResource, id: String) -> LiveResource {
    LiveResource {
        outputs: Default::default(),
        address: desired.address.clone(),
        kind: desired.kind,
        id,
        tags: tags_to_apply(desired),
        depends_on: desired.depends_on.clone(),
        fields: desired.fields.clone(),
    }
}

/// The desired tags plus the digest of the values being applied.
fn tags_to_apply(desired: &DesiredResource) -> BTreeMap<String, String> {
    let mut tags = desired.tags.clone();
    tags.insert(
        TAG_APPLIED_DIGEST.to_string(),
        envctl_engine::applied_digest(&desired.fields),
    );
    tags
}

/// A live resource read from AWS; references still hold raw ids until
/// [`resolve_references`] maps them to addresses.
fn live(
    address: Address,
    id: String,
    tags: BTreeMap<String, String>,
    fields: Vec<(&str, Value)>,
) -> LiveResource {
    LiveResource {
        outputs: Default::default(),
        kind: address.kind,
        address,
        id,
        tags,
        depends_on: Vec::new(),
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    }
}

/// A text field read from AWS (absent reads as empty).
fn text(value: Option<&str>) -> Value {
    Value::Str(value.unwrap_or_default().to_string())
}

/// Whose a resource is, by its tags, as far as one environment's read is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Claim {
    /// This environment's, at this address (placement is checked after the read).
    Ours(Address),
    /// Another project's, another known environment's, or nobody's: not this read's business.
    Others,
    /// Tagged for this project, but its environment or address cannot be told: reported as a
    /// conflict, never ignored.
    Unclear(String),
}

/// What `tags` claim about a resource of `kind` for `scope`.
pub(super) fn claim(tags: &BTreeMap<String, String>, kind: ResourceKind, scope: &Scope) -> Claim {
    if tags.get(envctl_spec::TAG_PROJECT) != Some(&scope.project) {
        return Claim::Others;
    }
    match tags.get(envctl_spec::TAG_ENVIRONMENT) {
        Some(environment) if environment == &scope.environment => {
            match address_from_tags(tags, kind) {
                Some(address) => Claim::Ours(address),
                None => Claim::Unclear(format!(
                    "it carries this environment's tags but its `{TAG_ADDRESS}` tag is missing or names no {kind}"
                )),
            }
        }
        Some(environment)
            if scope.known_environments.is_empty()
                || scope.known_environments.contains(environment) =>
        {
            Claim::Others
        }
        Some(environment) => Claim::Unclear(format!(
            "its `{}` tag names `{environment}`, which the spec does not declare",
            envctl_spec::TAG_ENVIRONMENT
        )),
        None => Claim::Unclear(format!(
            "it carries the project's tags but no `{}` tag",
            envctl_spec::TAG_ENVIRONMENT
        )),
    }
}

/// The address `tags` give a resource of `kind` in `scope`'s environment, or `None` when it is
/// someone else's or (then recorded in `read` as a conflict) unclear.
pub(super) fn ours(
    read: &mut KindRead,
    tags: &BTreeMap<String, String>,
    kind: ResourceKind,
    id: &str,
    scope: &Scope,
) -> Option<Address> {
    if scope.network.is_some() {
        return Some(unmanaged_address(kind, id));
    }
    match claim(tags, kind, scope) {
        Claim::Ours(address) => Some(address),
        Claim::Others => None,
        Claim::Unclear(reason) => {
            read.conflicts
                .push(conflict(kind, id, tags.clone(), reason));
            None
        }
    }
}

/// Sorts out a resource of `kind` called `name` that is not owned by `scope`: a name of the
/// environment's naming (starting with `prefix`) held by someone else is a foreign name; one
/// tagged for the project whose environment cannot be told is also a conflict.
pub(super) fn not_ours(
    read: &mut KindRead,
    kind: ResourceKind,
    name: &str,
    tags: &BTreeMap<String, String>,
    scope: &Scope,
    prefix: &str,
) {
    if name.starts_with(prefix) {
        read.foreign_names.push(envctl_engine::ForeignName {
            kind,
            name: name.to_string(),
            id: name.to_string(),
            owner: tags.get(envctl_spec::TAG_PROJECT).map(|p| {
                format!(
                    "{p}/{}",
                    tags.get(envctl_spec::TAG_ENVIRONMENT)
                        .map_or("?", String::as_str)
                )
            }),
        });
    }
    if let Claim::Unclear(reason) = claim(tags, kind, scope) {
        read.conflicts
            .push(conflict(kind, name, tags.clone(), reason));
    }
}

/// The resources of a listing that carries no tags whose tags (asked for each at once by
/// `tags_of`; `None` for one deleted since the listing, which is gone, not a failed read) say
/// they are `scope`'s, with their addresses and tags; the others are sorted out with
/// [`not_ours`] under `prefix`.
pub(super) async fn claim_listed<'a, T, F, Fut>(
    read: &mut KindRead,
    kind: ResourceKind,
    scope: &Scope,
    prefix: &str,
    listed: &'a [T],
    name_of: impl Fn(&T) -> &str,
    tags_of: F,
) -> Result<Vec<(&'a T, Address, BTreeMap<String, String>)>, ProviderError>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = Result<Option<BTreeMap<String, String>>, ProviderError>>,
{
    let tags = futures::future::try_join_all(listed.iter().map(tags_of)).await?;
    let mut ours = Vec::new();
    for (item, tags) in listed.iter().zip(tags) {
        let Some(tags) = tags else {
            continue;
        };
        if scope.network.is_some() {
            ours.push((item, unmanaged_address(kind, name_of(item)), tags));
            continue;
        }
        match claim(&tags, kind, scope) {
            Claim::Ours(address) => ours.push((item, address, tags)),
            Claim::Others | Claim::Unclear(_) => {
                not_ours(read, kind, name_of(item), &tags, scope, prefix)
            }
        }
    }
    Ok(ours)
}

/// A delete's answer with "it is not there" as done: deleting what is gone (an earlier run
/// did, or someone else) is no failure.
pub(super) fn gone_is_done<T>(answer: Result<T, ProviderError>) -> Result<(), ProviderError> {
    match answer {
        Ok(_) | Err(ProviderError::NotFound { .. }) => Ok(()),
        Err(other) => Err(other),
    }
}

/// An answer about one named resource with "the service does not know it" as `None` rather
/// than an error: RDS answers `DBClusterNotFoundFault` for a name it has forgotten, CloudWatch
/// and SSM `ResourceNotFound` for a tag call on something deleted since it was listed.
pub(super) fn unless_unknown<T>(
    answer: Result<T, ProviderError>,
) -> Result<Option<T>, ProviderError> {
    match answer {
        Ok(found) => Ok(Some(found)),
        Err(ProviderError::NotFound { .. }) => Ok(None),
        Err(other) => Err(other),
    }
}

/// Whether `tags` (of a resource found under `desired`'s unique name) say an envctl run made
/// it for `desired`'s address: only then may a create adopt it.
pub(super) fn made_for(tags: &BTreeMap<String, String>, desired: &DesiredResource) -> bool {
    [
        envctl_spec::TAG_PROJECT,
        envctl_spec::TAG_ENVIRONMENT,
        TAG_ADDRESS,
    ]
    .iter()
    .all(|key| tags.get(*key).is_some() && tags.get(*key) == desired.tags.get(*key))
}

/// A conflict about a resource of `kind` with cloud id `id`, reported at the address its tags
/// name (or an unmanaged-style one when they name none).
pub(super) fn conflict(
    kind: ResourceKind,
    id: &str,
    tags: BTreeMap<String, String>,
    reason: String,
) -> envctl_engine::Conflict {
    let address = address_from_tags(&tags, kind)
        .unwrap_or_else(|| envctl_engine::unmanaged_address(kind, id));
    envctl_engine::Conflict {
        resource: live(address, id.to_string(), tags, Vec::new()),
        reason,
    }
}

/// Moves out of `resources` those tagged for the environment that do not sit where its
/// resources sit (their placement reference did not resolve to one of its resources), and
/// returns them as conflicts. Runs until nothing moves: what sits in a conflict conflicts too.
fn prove_placement(resources: &mut Vec<LiveResource>) -> Vec<envctl_engine::Conflict> {
    let mut conflicts = Vec::new();
    loop {
        let owned: std::collections::BTreeSet<Address> =
            resources.iter().map(|r| r.address.clone()).collect();
        let misplaced: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let Some((field, target)) = kinds::placement(r.kind) else {
                    return false;
                };
                // A reference that did not resolve is still a cloud id (`Str`).
                let points_home = |value: &Value| {
                    value
                        .as_ref()
                        .is_some_and(|a| a.kind == target && owned.contains(a))
                };
                match r.fields.get(field) {
                    Some(Value::List(items)) => !items.iter().all(points_home),
                    Some(value) => !points_home(value),
                    None => false,
                }
            })
            .map(|(i, _)| i)
            .collect();
        if misplaced.is_empty() {
            return conflicts;
        }
        for index in misplaced.into_iter().rev() {
            let resource = resources.remove(index);
            let (field, target) = kinds::placement(resource.kind).unwrap_or(("", resource.kind));
            let reason = format!(
                "it carries this environment's tags but its `{field}` is not one of the environment's {target}s ({})",
                resource
                    .fields
                    .get(field)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            );
            conflicts.push(envctl_engine::Conflict { resource, reason });
        }
    }
}

/// The address a resource's `envctl:address` tag names, if it is well formed and of `kind`.
fn address_from_tags(tags: &BTreeMap<String, String>, kind: ResourceKind) -> Option<Address> {
    let address: Address = tags.get(TAG_ADDRESS)?.parse().ok()?;
    (address.kind == kind).then_some(address)
}

/// Replaces cloud ids in reference fields by the addresses of the owned resources they name,
/// and records those addresses as dependencies. Ids of resources envctl does not own stay as
/// they are, so they show up as differences. Ids are looked up per kind: RDS identifiers of a
/// cluster and of its subnet group may be the same text. Returns every id referenced (which
/// of two copies of an address is in use).
fn resolve_references(resources: &mut [LiveResource]) -> std::collections::BTreeSet<String> {
    let mut referenced = std::collections::BTreeSet::new();
    let by_id: BTreeMap<(ResourceKind, String), Address> = resources
        .iter()
        .map(|r| ((r.kind, r.id.clone()), r.address.clone()))
        .collect();
    for resource in resources.iter_mut() {
        let mut depends_on = std::mem::take(&mut resource.depends_on);
        for (field, target) in kinds::references(resource.kind) {
            let Some(value) = resource.fields.get_mut(*field) else {
                continue;
            };
            let mut resolve = |id: &str| match by_id.get(&(*target, id.to_string())) {
                Some(address) => {
                    referenced.insert(id.to_string());
                    depends_on.push(address.clone());
                    Value::Ref(address.clone())
                }
                None => Value::Str(id.to_string()),
            };
            let resolved = match &*value {
                Value::Str(id) => resolve(id),
                Value::List(items) => Value::set(
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(&mut resolve)
                        .collect::<Vec<_>>(),
                ),
                other => other.clone(),
            };
            *value = resolved;
        }
        depends_on.sort();
        depends_on.dedup();
        resource.depends_on = depends_on;
    }
    referenced
}

/// Resolves one reference to its cloud id. A text is a cloud id already (a reference to a
/// resource envctl does not own, or to the old copy of one being replaced).
fn id_of(ids: &CloudIds, value: &Value) -> Result<String, ProviderError> {
    match value {
        Value::Ref(address) => {
            ids.get(address)
                .cloned()
                .ok_or_else(|| ProviderError::UnresolvedReference {
                    address: address.to_string(),
                })
        }
        Value::Str(id) => Ok(id.clone()),
        other => Err(ProviderError::Rejected {
            code: "InvalidReference".into(),
            message: format!("{other} is not a reference"),
            request_id: None,
        }),
    }
}

/// Resolves a desired reference field (one address) to a cloud id.
fn field_id(
    desired: &DesiredResource,
    field: &str,
    ids: &CloudIds,
) -> Result<String, ProviderError> {
    let reference = desired
        .field(field)
        .ok_or_else(|| missing_field(desired, field))?;
    id_of(ids, reference)
}

/// Resolves a desired reference list field to cloud ids.
fn field_ids(
    desired: &DesiredResource,
    field: &str,
    ids: &CloudIds,
) -> Result<Vec<String>, ProviderError> {
    match desired.field(field) {
        Some(Value::List(items)) => items.iter().map(|item| id_of(ids, item)).collect(),
        Some(other) => Err(ProviderError::Rejected {
            code: "InvalidReference".into(),
            message: format!("`{field}` of {} is not a list: {other}", desired.address),
            request_id: None,
        }),
        None => Ok(Vec::new()),
    }
}

/// A desired text field.
fn field_str<'a>(desired: &'a DesiredResource, field: &str) -> Result<&'a str, ProviderError> {
    desired
        .field(field)
        .and_then(Value::as_str)
        .ok_or_else(|| missing_field(desired, field))
}

fn missing_field(desired: &DesiredResource, field: &str) -> ProviderError {
    ProviderError::Rejected {
        code: "MissingField".into(),
        message: format!("{} has no `{field}`", desired.address),
        request_id: None,
    }
}
