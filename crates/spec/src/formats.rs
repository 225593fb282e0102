//! The textual formats AWS and envctl impose on names and values.
//!
//! Owns the rules for identifiers (project, environment and resource names), cloud names,
//! regions, zones, image ids, versions, instance types and classes, maintenance windows, user
//! names, descriptions, tags and bucket names. Each check returns `Err(label)` where the label
//! explains, in a few words, what the text should look like. Pure functions only.

/// Longest project, environment or resource name.
pub(crate) const MAX_NAME_LEN: usize = 20;
/// Longest cloud name (`{project}-{env}-{name}-{i}`): the RDS identifier limit.
pub(crate) const MAX_CLOUD_NAME_LEN: usize = 63;

/// A name usable inside AWS names: `[a-z][a-z0-9-]*`, no trailing hyphen, no `--`, at most
/// [`MAX_NAME_LEN`] characters.
pub(crate) fn check_identifier(name: &str) -> Result<(), String> {
    let length = name.chars().count();
    if length == 0 {
        return Err("a name cannot be empty".into());
    }
    if length > MAX_NAME_LEN {
        return Err(format!(
            "{length} characters long; at most {MAX_NAME_LEN} are allowed"
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".into());
    }
    if let Some(bad) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    {
        return Err(format!(
            "`{}` is not allowed: use lowercase letters, digits and `-`",
            shown(bad)
        ));
    }
    if name.ends_with('-') {
        return Err("cannot end with `-`".into());
    }
    if name.contains("--") {
        return Err("cannot contain `--`".into());
    }
    Ok(())
}

/// A character as messages show it: itself, or escaped when it is invisible.
fn shown(c: char) -> String {
    if c.is_control() || c.is_whitespace() && c != ' ' {
        c.escape_default().to_string()
    } else {
        c.to_string()
    }
}

/// A valid identifier close to `name` (lowercased, `_` and spaces turned into `-`), if there
/// is one that differs from it.
pub(crate) fn suggest_identifier(name: &str) -> Option<String> {
    let mut out = String::new();
    for c in name.trim().chars() {
        let c = match c {
            '_' | ' ' | '.' => '-',
            c => c.to_ascii_lowercase(),
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out = out.trim_matches('-').to_string();
    (out != name && check_identifier(&out).is_ok()).then_some(out)
}

/// An AWS region such as `us-east-1` or `us-gov-west-1`.
pub(crate) fn is_region(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    let [country, middle @ .., number] = parts.as_slice() else {
        return false;
    };
    country.len() == 2
        && country.bytes().all(|b| b.is_ascii_lowercase())
        && !middle.is_empty()
        && middle
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && !number.is_empty()
        && number.len() <= 2
        && number.bytes().all(|b| b.is_ascii_digit())
}

/// A zone written as the letter after the region: `a`.
pub(crate) fn is_zone_suffix(text: &str) -> bool {
    text.len() == 1 && text.bytes().all(|b| b.is_ascii_lowercase())
}

/// A zone of `region`: the region and one lowercase letter, `us-east-1a`.
pub(crate) fn is_zone_of(zone: &str, region: &str) -> bool {
    zone.strip_prefix(region)
        .is_some_and(|letter| letter.len() == 1 && letter.bytes().all(|b| b.is_ascii_lowercase()))
}

/// A pinned image id: `ami-` and 8 or 17 lowercase hex digits.
pub(crate) fn is_ami(text: &str) -> bool {
    text.strip_prefix("ami-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// A full engine version: digits, `.`, digits, then anything made of letters, digits, `.` and
/// `_` (`15.4`, `8.0.mysql_aurora.3.05.2`).
pub(crate) fn is_pinned_version(text: &str) -> bool {
    let Some((major, rest)) = text.split_once('.') else {
        return false;
    };
    let minor_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    !major.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor_len > 0
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_')
}

/// An EC2 instance type: `family.size`, such as `t3.medium` or `m7i-flex.large`.
pub(crate) fn is_instance_type(text: &str) -> bool {
    let Some((family, size)) = text.split_once('.') else {
        return false;
    };
    family.starts_with(|c: char| c.is_ascii_lowercase())
        && family
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !size.is_empty()
        && size
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && family != "db"
}

/// An RDS instance class: `db.` and an instance type, such as `db.r6g.large`.
pub(crate) fn is_instance_class(text: &str) -> bool {
    text.strip_prefix("db.").is_some_and(is_instance_type)
}

/// A daily window `hh:mm-hh:mm` in UTC, as minutes since midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: u16,
    pub end: u16,
}

/// Shortest window AWS accepts for backups and maintenance.
pub(crate) const MIN_WINDOW_MINUTES: u16 = 30;

/// Parses and checks a window: valid times, distinct, at least [`MIN_WINDOW_MINUTES`] long
/// (a window may run past midnight).
pub(crate) fn parse_window(text: &str) -> Result<Window, String> {
    let shape = "expected `hh:mm-hh:mm` in UTC, such as `03:00-04:00`";
    let (start, end) = text.split_once('-').ok_or_else(|| shape.to_string())?;
    let time = |part: &str| -> Result<u16, String> {
        let (hours, minutes) = part.split_once(':').ok_or_else(|| shape.to_string())?;
        let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(hours) || !two_digits(minutes) {
            return Err(shape.to_string());
        }
        let hours: u16 = hours.parse().map_err(|_| shape.to_string())?;
        let minutes: u16 = minutes.parse().map_err(|_| shape.to_string())?;
        if hours > 23 || minutes > 59 {
            return Err(format!("`{part}` is not a time of day"));
        }
        Ok(hours * 60 + minutes)
    };
    let window = Window {
        start: time(start)?,
        end: time(end)?,
    };
    if window.start == window.end {
        return Err("the window starts and ends at the same time".into());
    }
    let length = (window.end + 24 * 60 - window.start) % (24 * 60);
    if length < MIN_WINDOW_MINUTES {
        return Err(format!(
            "{length} minutes long; AWS requires at least {MIN_WINDOW_MINUTES}"
        ));
    }
    Ok(window)
}

/// An RDS master user name: a letter, then letters, digits or `_`, 1 to 16 characters.
pub(crate) fn check_master_username(text: &str) -> Result<(), String> {
    let rule = "expected a letter, then letters, digits or `_`, at most 16 characters";
    let valid = text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text.len() <= 16
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if valid { Ok(()) } else { Err(rule.into()) }
}

/// A security group description: at most 255 characters AWS accepts.
pub(crate) fn check_description(text: &str) -> Result<(), String> {
    const ALLOWED: &str = " ._-:/()#,@[]+=&;{}!$*";
    if text.is_empty() {
        return Err("a description cannot be empty".into());
    }
    if text.chars().count() > 255 {
        return Err("longer than the 255 characters AWS allows".into());
    }
    match text
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || ALLOWED.contains(c)))
    {
        Some(bad) => Err(format!(
            "AWS does not allow `{}` in a security group description",
            shown(bad)
        )),
        None => Ok(()),
    }
}

/// An S3 bucket name: 3-63 lowercase letters, digits, `-` and `.`, starting and ending with a
/// letter or digit.
pub(crate) fn check_bucket_name(text: &str) -> Result<(), String> {
    let edge_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && edge_ok(text.chars().next())
        && edge_ok(text.chars().last())
        && !text.contains("..");
    if valid {
        Ok(())
    } else {
        Err("expected 3-63 lowercase letters, digits, `-` or `.`, starting and ending with a letter or digit".into())
    }
}

/// A project tag: AWS limits, and the keys envctl sets itself.
pub(crate) fn check_tag(key: &str, value: &str) -> Result<(), (bool, String)> {
    if key.is_empty() || key.chars().count() > 128 {
        return Err((true, "a tag key must be 1 to 128 characters".into()));
    }
    if key == "Name" || key.starts_with("envctl:") {
        return Err((true, "envctl sets this tag itself".into()));
    }
    if key.to_ascii_lowercase().starts_with("aws:") {
        return Err((true, "the `aws:` prefix is reserved by AWS".into()));
    }
    if value.chars().count() > 256 {
        return Err((false, "a tag value must be at most 256 characters".into()));
    }
    Ok(())
}

/// An AWS account id: exactly 12 digits.
pub(crate) fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The account of an IAM role ARN `arn:PARTITION:iam::ACCOUNT:role/NAME`.
pub(crate) fn role_arn_account(arn: &str) -> Option<&str> {
    let ["arn", partition, "iam", "", account, resource] =
        arn.splitn(6, ':').collect::<Vec<_>>()[..]
    else {
        return None;
    };
    let well_formed = ["aws", "aws-cn", "aws-us-gov"].contains(&partition)
        && is_account_id(account)
        && resource
            .strip_prefix("role/")
            .is_some_and(|name| !name.is_empty());
    well_formed.then_some(account)
}

/// STS's text forms (an external id, a role session name): `min..=max` characters, each a
/// letter, a digit or one of `extra`.
pub(crate) fn is_sts_text(text: &str, min: usize, max: usize, extra: &str) -> bool {
    (min..=max).contains(&text.len())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// A KMS key ARN: `arn:aws:kms:REGION:ACCOUNT:key/ID` (any AWS partition).
pub(crate) fn is_kms_key_arn(text: &str) -> bool {
    let parts: Vec<&str> = text.splitn(6, ':').collect();
    matches!(
        parts.as_slice(),
        ["arn", partition, "kms", region, account, resource]
            if partition.starts_with("aws")
                && !region.is_empty()
                && is_account_id(account)
                && resource.strip_prefix("key/").is_some_and(|id| !id.is_empty())
    )
}

/// A secret's source, `env:VAR` or `file:PATH`; the error is the label to show.
pub(crate) fn parse_secret_source(text: &str) -> Result<crate::SecretSource, String> {
    text.parse().map_err(|e: crate::SecretSourceError| e.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers() {
        for good in ["webapp", "a", "prod-eu-1", "abcdefghijklmnopqrst"] {
            assert_eq!(check_identifier(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "Web",
            "1a",
            "a_b",
            "a-",
            "a--b",
            "abcdefghijklmnopqrstu",
            "é",
        ] {
            assert!(check_identifier(bad).is_err(), "{bad}");
        }
        assert_eq!(suggest_identifier("Web_App"), Some("web-app".into()));
        assert_eq!(suggest_identifier("1a"), None);
    }

    #[test]
    fn regions_and_zones() {
        for good in [
            "us-east-1",
            "us-gov-west-1",
            "ap-southeast-2",
            "eu-central-1",
        ] {
            assert!(is_region(good), "{good}");
        }
        for bad in [
            "us-east",
            "useast1",
            "US-EAST-1",
            "us--1",
            "u-east-1",
            "us-east-1a",
        ] {
            assert!(!is_region(bad), "{bad}");
        }
        assert!(is_zone_of("us-east-1a", "us-east-1"));
        assert!(!is_zone_of("us-east-1", "us-east-1"));
        assert!(!is_zone_of("us-west-2a", "us-east-1"));
        assert!(!is_zone_of("us-east-1ab", "us-east-1"));
    }

    #[test]
    fn pinned_images_and_versions() {
        assert!(is_ami("ami-0c55b159cbfafe1f0"));
        assert!(is_ami("ami-12345678"));
        assert!(!is_ami("ami-0C55B159"));
        assert!(!is_ami("latest"));
        assert!(!is_ami("ami-123456789"));
        assert!(is_pinned_version("15.4"));
        assert!(is_pinned_version("8.0.mysql_aurora.3.05.2"));
        for bad in ["15", "latest", "15.", ".4", "15.x", "15.4 "] {
            assert!(!is_pinned_version(bad), "{bad}");
        }
    }

    #[test]
    fn instance_types_and_classes() {
        assert!(is_instance_type("t3.medium"));
        assert!(is_instance_type("m7i-flex.large"));
        assert!(!is_instance_type("db.t3.medium"));
        assert!(!is_instance_type("t3"));
        assert!(is_instance_class("db.r6g.2xlarge"));
        assert!(!is_instance_class("r6g.2xlarge"));
    }

    #[test]
    fn windows() {
        assert_eq!(
            parse_window("03:00-04:00"),
            Ok(Window {
                start: 180,
                end: 240
            })
        );
        assert!(parse_window("23:45-00:15").is_ok(), "runs past midnight");
        assert!(parse_window("03:00-03:10").is_err(), "too short");
        assert!(parse_window("03:00-03:00").is_err(), "empty");
        assert!(parse_window("24:00-01:00").is_err(), "no hour 24");
        assert!(parse_window("3:00-4:00").is_err(), "two digits");
    }

    #[test]
    fn user_names_descriptions_buckets_and_tags() {
        assert!(check_master_username("app_1").is_ok());
        assert!(check_master_username("1app").is_err());
        assert!(check_master_username("abcdefghijklmnopq").is_err());
        assert!(check_description("app servers (tls)").is_ok());
        assert!(check_description("café").is_err());
        assert!(check_bucket_name("envctl-locks").is_ok());
        assert!(check_bucket_name("Envctl").is_err());
        assert!(check_tag("team", "platform").is_ok());
        assert!(check_tag("Name", "x").is_err());
        assert!(check_tag("aws:foo", "x").is_err());
    }

    #[test]
    fn kms_key_arns_are_told_from_aliases_and_ids() {
        assert!(is_kms_key_arn(
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        for text in [
            "alias/logs",
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:alias/logs",
            "arn:aws:kms:us-east-1:12345:key/x",
        ] {
            assert!(!is_kms_key_arn(text), "{text}");
        }
    }
}
