//! SSM parameters: read by the environment's path (`/{project}/{env}`, one paginated
//! `GetParametersByPath`) and their tags (one call per parameter found: the read carries
//! none), created with their tags, overwritten in place, deleted.
//!
//! Invariants: the name is the id and is unique per account and region, so a create that
//! finds the name taken adopts the parameter only when its tags say it is this address's (a
//! retried create whose answer was lost lands there too) and otherwise refuses; a parameter
//! under the path that is not the environment's is a foreign name, never deleted or
//! overwritten; a `StringList` is read back as its items in order (SSM joins them with `,`,
//! which the spec keeps out of items); a `SecureString`'s value is read (decrypted) only to
//! be kept as a keyed digest (`crate::secrets`), compared with its source's digest, and shown
//! as `value changed (secret)`, never as itself.

use std::collections::BTreeMap;

use aws_sdk_ssm::types::{Parameter as SsmParameter, ParameterType, ResourceTypeForTagging, Tag};
use envctl_engine::{
    CloudIds, DeleteOptions, FieldChange, LiveResource, Progress, ProviderError, ReplaceOrder,
    ResourceDiff, Scope, diff_fields,
};
use envctl_spec::{DesiredResource, ResourceKind, SecretSource, Value};

use super::{AwsKind, KindRead, Service};
use crate::aws::error::classify;
use crate::aws::{
    AwsProvider, claim_listed, gone_is_done, live, made_for, tags_to_apply, unless_unknown,
};
use crate::secrets;

/// The field holding the SSM type.
const TYPE: &str = "type";
/// The field holding a `String`'s value.
const VALUE: &str = "value";
/// The field holding a `StringList`'s items.
const VALUES: &str = "values";
/// The field holding a `SecureString`'s source (desired only).
const VALUE_FROM: &str = "value_from";
/// The field holding a live `SecureString`'s keyed digest (live only).
const SECRET_DIGEST: &str = "secret_digest";

/// The `parameter` kind.
#[derive(Debug)]
pub(crate) struct Parameter;

impl AwsKind for Parameter {
    const KIND: ResourceKind = ResourceKind::Parameter;
    const SERVICE: Service = Service::Ssm;
    const FORCES_REPLACEMENT: &'static [&'static str] = &[];
    const REFERENCES: &'static [(&'static str, ResourceKind)] = &[];
    const PLACEMENT: Option<(&'static str, ResourceKind)> = None;
    const IMPORTED: bool = true;

    fn diff(desired: &DesiredResource, live: &LiveResource) -> ResourceDiff {
        // The source of a secret is compared through its value's digest, not as a field.
        let Some(source) = desired.field(VALUE_FROM) else {
            return ResourceDiff {
                changes: diff_fields(desired, live, Self::FORCES_REPLACEMENT),
                notes: Vec::new(),
            };
        };
        let mut compared = desired.clone();
        compared.fields.remove(VALUE_FROM);
        let mut changes = diff_fields(&compared, live, Self::FORCES_REPLACEMENT);
        let desired_digest = source
            .as_str()
            .and_then(|text| text.parse::<SecretSource>().ok())
            .and_then(|source| secrets::read(&source).ok())
            .map(|value| secrets::keyed_digest(&value));
        let live_digest = live.fields.get(SECRET_DIGEST).and_then(Value::as_str);
        if desired_digest.is_none() || desired_digest.as_deref() != live_digest {
            changes.push(FieldChange::secret(VALUE));
        }
        ResourceDiff {
            changes,
            notes: Vec::new(),
        }
    }

    fn replace_order(_desired: &DesiredResource, _live: &LiveResource) -> ReplaceOrder {
        // Names are unique (and nothing forces a replacement anyway).
        ReplaceOrder::DestroyBeforeCreate
    }

    async fn read(aws: &AwsProvider, scope: &Scope) -> Result<KindRead, ProviderError> {
        let path = format!("/{}/{}", scope.project, scope.environment);
        let prefix = format!("{path}/");
        let pages: Vec<_> = aws
            .ssm
            .get_parameters_by_path()
            .path(&path)
            .recursive(true)
            // Decrypted only to be digested below: a secret's value never enters the state.
            .with_decryption(true)
            .into_paginator()
            .send()
            .try_collect()
            .await
            .map_err(|e| classify(e, "parameters"))?;
        let parameters: Vec<SsmParameter> = pages
            .iter()
            .flat_map(|page| page.parameters().iter().cloned())
            .collect();
        let mut read = KindRead::default();
        let ours = claim_listed(
            &mut read,
            Self::KIND,
            scope,
            &prefix,
            &parameters,
            parameter_name,
            |parameter| aws.parameter_tags(parameter_name(parameter), parameter_name(parameter)),
        )
        .await?;
        for (parameter, address, tags) in ours {
            let name = parameter_name(parameter);
            let kind = parameter
                .r#type()
                .map(ParameterType::as_str)
                .unwrap_or("String");
            let value = parameter.value().unwrap_or_default();
            let mut fields = vec![(TYPE, Value::Str(kind.to_string()))];
            match kind {
                "StringList" => fields.push((
                    VALUES,
                    Value::List(
                        value
                            .split(',')
                            .map(|item| Value::Str(item.to_string()))
                            .collect(),
                    ),
                )),
                // A secret's value is never kept: only its keyed digest is.
                "SecureString" => {
                    fields.push((SECRET_DIGEST, Value::Str(secrets::keyed_digest(value))))
                }
                _ => fields.push((VALUE, Value::Str(value.to_string()))),
            }
            read.resources
                .push(live(address, name.to_string(), tags, fields));
        }
        Ok(read)
    }

    async fn create(
        aws: &AwsProvider,
        desired: &DesiredResource,
        _ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<String, ProviderError> {
        let what = desired.address.to_string();
        let name = &desired.cloud_name;
        let (kind, value) = desired_value(desired)?;
        let tags: Vec<Tag> = tags_to_apply(desired)
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let created = aws
            .ssm
            .put_parameter()
            .name(name)
            .r#type(kind.clone())
            .value(&value)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify(e, &what));
        match created {
            Ok(_) => {}
            // A retried create whose first answer was lost, or an interrupted earlier run:
            // take the parameter over if its tags say it is this address's.
            Err(ProviderError::AlreadyExists { .. }) => {
                let tags = aws.parameter_tags(name, &what).await?.unwrap_or_default();
                if !made_for(&tags, desired) {
                    return Err(ProviderError::AlreadyExists {
                        what: format!("parameter `{name}` (not created by envctl for {what})"),
                    });
                }
                aws.overwrite_parameter(desired, name).await?;
            }
            Err(other) => return Err(other),
        }
        Ok(name.clone())
    }

    async fn update(
        aws: &AwsProvider,
        desired: &DesiredResource,
        live: &LiveResource,
        changes: &[FieldChange],
        _ids: &CloudIds,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        if changes
            .iter()
            .any(|c| [TYPE, VALUE, VALUES, VALUE_FROM].contains(&c.field.as_str()))
        {
            aws.overwrite_parameter(desired, &live.id).await?;
        }
        Ok(())
    }

    async fn delete(
        aws: &AwsProvider,
        live: &LiveResource,
        _options: DeleteOptions,
        _progress: &dyn Progress,
    ) -> Result<(), ProviderError> {
        let what = live.address.to_string();
        gone_is_done(
            aws.ssm
                .delete_parameter()
                .name(&live.id)
                .send()
                .await
                .map_err(|e| classify(e, &what)),
        )
    }
}

/// A listed parameter's name.
fn parameter_name(parameter: &SsmParameter) -> &str {
    parameter.name().unwrap_or_default()
}

/// The SSM type and value text of a desired parameter.
fn desired_value(desired: &DesiredResource) -> Result<(ParameterType, String), ProviderError> {
    let rejected = |message: String| ProviderError::Rejected {
        code: "InvalidParameter".into(),
        message,
        request_id: None,
    };
    let what = &desired.address;
    match desired.field(TYPE).and_then(Value::as_str) {
        Some("String") => {
            let value = desired
                .field(VALUE)
                .and_then(Value::as_str)
                .ok_or_else(|| rejected(format!("{what} has no `value`")))?;
            Ok((ParameterType::String, value.to_string()))
        }
        Some("StringList") => {
            let items: Vec<&str> = match desired.field(VALUES) {
                Some(Value::List(items)) => items.iter().filter_map(Value::as_str).collect(),
                _ => return Err(rejected(format!("{what} has no `values`"))),
            };
            Ok((ParameterType::StringList, items.join(",")))
        }
        Some("SecureString") => {
            let source: SecretSource = desired
                .field(VALUE_FROM)
                .and_then(Value::as_str)
                .and_then(|text| text.parse().ok())
                .ok_or_else(|| rejected(format!("{what} has no `value_from`")))?;
            // Read now, used once, dropped: it goes nowhere but into the call.
            let value = secrets::read(&source).map_err(|e| rejected(format!("{what}: {e}")))?;
            Ok((ParameterType::SecureString, value))
        }
        other => Err(rejected(format!(
            "{what}: parameters of type {} are not supported",
            other.unwrap_or("(none)")
        ))),
    }
}

impl AwsProvider {
    /// The tags of parameter `name`; `None` once it is gone.
    async fn parameter_tags(
        &self,
        name: &str,
        what: &str,
    ) -> Result<Option<BTreeMap<String, String>>, ProviderError> {
        let answer = self
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(|e| classify(e, what));
        Ok(unless_unknown(answer)?.map(|out| {
            out.tag_list()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()
        }))
    }

    /// Writes the desired type and value over parameter `name` (tags are not touched: SSM
    /// refuses tags on an overwrite; [`AwsProvider::tag_parameter`] writes them).
    async fn overwrite_parameter(
        &self,
        desired: &DesiredResource,
        name: &str,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let (kind, value) = desired_value(desired)?;
        self.ssm
            .put_parameter()
            .name(name)
            .r#type(kind)
            .value(value)
            .overwrite(true)
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }

    /// Writes the desired tags and the applied digest on parameter `name`.
    pub(super) async fn tag_parameter(
        &self,
        desired: &DesiredResource,
        name: &str,
    ) -> Result<(), ProviderError> {
        let what = desired.address.to_string();
        let tags: Vec<Tag> = tags_to_apply(desired)
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        self.ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| classify(e, &what))?;
        Ok(())
    }
}
