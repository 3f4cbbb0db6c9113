//! Validated domain values. Each type can only be built valid (through
//! `FromStr`/`TryFrom`, which serde uses too), so the rest of bgctl never
//! re-checks: a `ServiceName` is always safe in a unit-file name, an
//! `ImageRef` is always one word, a `PrintableText` never holds a newline.

mod abs_path;
mod argv;
mod body_size;
mod color;
mod deploy_id;
mod docker_host;
mod duration;
mod email_address;
mod endpoint;
mod env_name;
mod error_ratio;
mod health_path;
mod host_name;
mod http_status;
mod http_url;
mod image_ref;
mod key_prefix;
mod port;
mod printable_text;
mod proxy_url;
mod server_name;
mod service_name;
mod sha512;
mod unit_name;
mod upstream;

pub use abs_path::AbsPath;
pub use argv::Argv;
pub use body_size::BodySize;
pub use color::Color;
pub use deploy_id::DeployId;
pub use docker_host::DockerHost;
pub use duration::HumanDuration;
pub use email_address::EmailAddress;
pub use endpoint::Endpoint;
pub use env_name::EnvName;
pub use error_ratio::ErrorRatio;
pub use health_path::HealthPath;
pub use host_name::HostName;
pub use http_status::HttpStatus;
pub use http_url::HttpUrl;
pub use image_ref::ImageRef;
pub use key_prefix::KeyPrefix;
pub use port::Port;
pub use printable_text::PrintableText;
pub use proxy_url::ProxyUrl;
pub use server_name::ServerName;
pub use service_name::ServiceName;
pub use sha512::Sha512;
pub use unit_name::UnitName;
pub use upstream::Upstream;

/// A value that does not fit its type: what it was meant to be, the value,
/// and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {reason}")]
pub struct InvalidValue {
    pub what: &'static str,
    pub value: String,
    pub reason: String,
}

impl InvalidValue {
    pub fn new(what: &'static str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// `s` as an owned string when `ok`, else why it was refused: the common
/// tail of the validated string types' `parse`.
fn accept(ok: bool, what: &'static str, s: &str, reason: &str) -> Result<String, InvalidValue> {
    if ok {
        Ok(s.to_owned())
    } else {
        Err(InvalidValue::new(what, s, reason))
    }
}

/// `host:port` with a non-zero port; the host may be a name, an IPv4
/// address or a bracketed IPv6 one.
fn is_host_port(addr: &str) -> bool {
    addr.rsplit_once(':').is_some_and(|(host, port)| {
        !host.is_empty()
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-[]:".contains(&b))
            && port.parse::<u16>().is_ok_and(|p| p > 0)
    })
}

/// Implements the string plumbing every validated string type shares:
/// `Display`, `AsRef<str>`, `TryFrom<String>` (used by serde) and `FromStr`,
/// all through the type's `fn parse(&str) -> Result<Self, InvalidValue>`.
macro_rules! validated_string {
    ($ty:ident) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $ty {
            type Err = $crate::domain::InvalidValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = $crate::domain::InvalidValue;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}
pub(crate) use validated_string;
