//! `parameter`: an SSM parameter `/{project}/{environment}/{name}`: a log level, a trace
//! endpoint, a sample rate, a secret.
//!
//! Owns the parameter's definition: its wording, its fields (`value`, `values`, `secure`,
//! `value_from`), its expansion and its check (exactly one way of giving the value).
//! Invariants: a parameter is never counted and has no scale fields; it expands into one
//! `parameter` resource named by path, whose `type` is `String` (from `value`), `StringList`
//! (from `values`, in order) or `SecureString` (from `value_from`); placeholders in values are
//! substituted per environment, so a value that differs only by the environment's own name is
//! written once; a secret's value is never in the spec or the expansion: only its source is
//! (`value_from`), read by the caller when it plans and applies.

use super::{
    DefaultValue, ExpandedKind, FieldDef, KindDef, Naming, Presence, Shape, SpecKind, TextFormat,
    address,
};
use crate::diagnostic::Diagnostic;
use crate::expand::{Expansion, Fields, address_of, copy};
use crate::kinds::FieldValue;
use crate::model::{ResourceKind, Value};
use crate::spec::{Configuration, Configured};

/// A single text value.
pub(crate) const VALUE: &str = "value";
/// A list of text values (an SSM `StringList`).
pub(crate) const VALUES: &str = "values";
/// Whether the value is a secret (an SSM `SecureString`).
pub(crate) const SECURE: &str = "secure";
/// Where a secret's value is read from: `env:VAR` or `file:PATH`.
pub(crate) const VALUE_FROM: &str = "value_from";
/// The expanded parameter's SSM type: `String`, `StringList` or `SecureString`.
pub(crate) const TYPE: &str = "type";

/// What SSM's standard tier holds at most, in bytes.
const MAX_VALUE_BYTES: usize = 4096;

pub(crate) const KIND: SpecKind = SpecKind(&KindDef {
    resource_kind: ResourceKind::Parameter,
    singular: "parameter",
    plural: "parameters",
    fields: &[
        FieldDef {
            name: VALUE,
            shape: Shape::Template {
                max_len: MAX_VALUE_BYTES,
            },
            presence: Presence::Optional,
            scale: false,
            example: "value = \"${environment}-jaeger:6831\"",
        },
        FieldDef {
            name: VALUES,
            shape: Shape::TemplateList { separator: ',' },
            presence: Presence::Optional,
            scale: false,
            example: "values = [\"json\", \"text\"]",
        },
        FieldDef {
            name: SECURE,
            shape: Shape::Bool,
            presence: Presence::Default(DefaultValue::Bool(false)),
            scale: false,
            example: "secure = true",
        },
        FieldDef {
            name: VALUE_FROM,
            shape: Shape::Text(TextFormat::SecretSource),
            presence: Presence::Optional,
            scale: false,
            example: "value_from = \"env:DB_PASSWORD\"",
        },
    ],
    count_field: None,
    expands_to: &[ExpandedKind {
        naming: Naming::Path,
        templated_fields: &[VALUE, VALUES],
        ..ExpandedKind::plain(ResourceKind::Parameter)
    }],
    expand,
    check: Some(check),
    check_all: None,
});

/// Exactly one of `value`, `values` and `value_from`; `value_from` exactly when `secure`.
fn check(
    _configuration: &Configuration<'_>,
    parameter: &Configured<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let owner = address(KIND, parameter.name());
    let given: Vec<(&str, _)> = [VALUE, VALUES, VALUE_FROM]
        .into_iter()
        .filter_map(|name| parameter.field(name).map(|field| (name, field.span)))
        .collect();
    let secure = matches!(
        parameter.field(SECURE).map(|f| &f.value),
        Some(FieldValue::Bool(true))
    );
    // A value that was written but refused has had its error already.
    let refused = [VALUE, VALUES, VALUE_FROM]
        .iter()
        .any(|name| parameter.resource.failed.contains(name));
    match given.as_slice() {
        [] if refused => {}
        [] => out.push(
            Diagnostic::error(format!("`{owner}` has no value"))
                .at(parameter.resource.span, "declared here")
                .with_hint(if secure {
                    "a secure parameter reads its value from `value_from = \"env:VAR\"` or \
                     `\"file:PATH\"`"
                } else {
                    "set `value = \"...\"`, `values = [...]`, or `secure = true` with \
                     `value_from = \"env:VAR\"`"
                }),
        ),
        [_] => {}
        [(first, _), rest @ ..] => {
            for (name, span) in rest {
                out.push(
                    Diagnostic::error(format!("`{owner}` sets both `{first}` and `{name}`"))
                        .at(*span, "a parameter takes its value one way only")
                        .with_hint(format!("remove `{name}` or `{first}`")),
                );
            }
        }
    }
    let from = parameter.field(VALUE_FROM);
    if secure {
        for (name, span) in &given {
            if *name != VALUE_FROM {
                out.push(
                    Diagnostic::error(format!("the secret `{owner}` is written in the spec"))
                        .at(*span, "a secure parameter's value never goes in the spec")
                        .with_hint(
                            "read it when envctl runs: `value_from = \"env:VAR\"` or \
                             `value_from = \"file:PATH\"`",
                        ),
                );
            }
        }
    } else if let Some(from) = from {
        out.push(
            Diagnostic::error(format!(
                "`{owner}` reads its value from a source but is not secure"
            ))
            .at(from.span, "`value_from` is for secrets")
            .with_hint("add `secure = true`, or write the value with `value = \"...\"`"),
        );
    }
}

/// One `parameter`: its type and its value (placeholders substituted) or its source.
fn expand(parameter: &Configured<'_>, out: &mut Expansion<'_>) {
    let placeholders = out.placeholders();
    let mut fields = Fields::new();
    if let Some(value) = parameter.text(VALUE) {
        fields.insert(TYPE.into(), Value::Str("String".into()));
        fields.insert(VALUE.into(), Value::Str(placeholders.substitute(value)));
    } else if let Some(FieldValue::TextList(items)) = parameter.field(VALUES).map(|f| &f.value) {
        fields.insert(TYPE.into(), Value::Str("StringList".into()));
        fields.insert(
            VALUES.into(),
            Value::List(
                items
                    .iter()
                    .map(|item| Value::Str(placeholders.substitute(item)))
                    .collect(),
            ),
        );
    } else {
        fields.insert(TYPE.into(), Value::Str("SecureString".into()));
        copy(parameter, &[VALUE_FROM], &mut fields);
    }
    out.push(
        address_of(KIND, parameter.name()),
        parameter.resource.span,
        Vec::new(),
        fields,
    );
}
