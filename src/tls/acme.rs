//! The boundary to an ACME server (RFC 8555, HTTP-01), through the
//! `instant-acme` crate: the account kept in `<acme_dir>/<name>/account.json`
//! (0600), each challenge's answer written where nginx serves
//! `/.well-known/acme-challenge/`, and the issued chain and key returned for
//! the caller to put in place. Nothing here touches the serving files.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier, NewAccount, NewOrder, OrderStatus,
    RetryPolicy,
};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::files::{FilesError, remove_if_exists, write_atomic, write_private};

/// How long the server may take to validate and to issue, each.
const POLL_LIMIT: Duration = Duration::from_secs(90);

#[derive(Debug, thiserror::Error)]
pub enum AcmeError {
    #[error("the ACME server at {directory} did not take the account: {source}")]
    Account {
        directory: String,
        source: instant_acme::Error,
    },
    #[error("the ACME server refused the order for {domains}: {source}")]
    Order {
        domains: String,
        source: instant_acme::Error,
    },
    #[error(
        "the ACME server could not validate {domain}: {detail}. It fetches http://{domain}/.well-known/acme-challenge/<token> from nginx's plain port ({listen}): does {domain} resolve to this host, and does that port reach nginx?"
    )]
    Challenge {
        domain: String,
        detail: String,
        listen: u16,
    },
    #[error("the ACME server sent challenge token {0:?}, which is no plain file name: refused")]
    BadToken(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Files(#[from] FilesError),
}

/// An issued certificate: the PEM chain and its private key's PEM.
pub struct Issued {
    pub chain: String,
    pub key: String,
}

/// What account.json holds: the directory it belongs to, and the account.
#[derive(Serialize, Deserialize)]
struct Stored {
    directory: String,
    credentials: AccountCredentials,
}

/// Orders a certificate for the config's ACME domains and answers its
/// HTTP-01 challenges through nginx. The account is made on first use.
pub async fn obtain(config: &Config) -> Result<Issued, AcmeError> {
    prepare_dirs(config)?;
    let account = account(config).await?;
    let domains = config.acme_domain_names();
    let identifiers: Vec<Identifier> = domains.into_iter().map(Identifier::Dns).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(|source| order_error(config, source))?;
    let mut tokens = Vec::new();
    let outcome = validate_and_finish(config, &mut order, &mut tokens).await;
    // The answers are of no use once the order is settled, either way.
    for token in tokens {
        remove_if_exists(&config.acme_challenges().as_path().join(token))?;
    }
    outcome
}

async fn validate_and_finish(
    config: &Config,
    order: &mut instant_acme::Order,
    tokens: &mut Vec<String>,
) -> Result<Issued, AcmeError> {
    answer_challenges(config, order, tokens).await?;
    match order.poll_ready(&retries()).await {
        Ok(OrderStatus::Ready) => finish(order).await.map_err(|source| order_error(config, source)),
        // The order's own problem is the validation's (pebble, Let's Encrypt).
        Ok(_) | Err(instant_acme::Error::Api(_)) => Err(challenge_failure(config, order).await),
        Err(source) => Err(order_error(config, source)),
    }
}

async fn finish(order: &mut instant_acme::Order) -> Result<Issued, instant_acme::Error> {
    let key = order.finalize().await?;
    let chain = order.poll_certificate(&retries()).await?;
    Ok(Issued { chain, key })
}

fn retries() -> RetryPolicy {
    RetryPolicy::new()
        .initial_delay(Duration::from_millis(200))
        .backoff(1.5)
        .timeout(POLL_LIMIT)
}

/// Writes each pending authorization's key authorization where nginx
/// serves it (adding its token to `tokens`), and tells the server to look.
async fn answer_challenges(
    config: &Config,
    order: &mut instant_acme::Order,
    tokens: &mut Vec<String>,
) -> Result<(), AcmeError> {
    let dir = config.acme_challenges();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|source| order_error(config, source))?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        let domain = authz.identifier().to_string();
        let Some(mut challenge) = authz.challenge(ChallengeType::Http01) else {
            return Err(challenge_error(
                config,
                domain,
                "the server offers no http-01 challenge".into(),
            ));
        };
        let token = plain_token(&challenge.token)?;
        write_atomic(
            &dir.as_path().join(&token),
            challenge.key_authorization().as_str().as_bytes(),
        )?;
        tokens.push(token);
        challenge
            .set_ready()
            .await
            .map_err(|source| order_error(config, source))?;
    }
    Ok(())
}

fn order_error(config: &Config, source: instant_acme::Error) -> AcmeError {
    AcmeError::Order {
        domains: config.acme_domain_list(),
        source,
    }
}

fn challenge_error(config: &Config, domain: String, detail: String) -> AcmeError {
    AcmeError::Challenge {
        domain,
        detail,
        listen: config.proxy.listen.get(),
    }
}

/// Why the order went invalid: the first failed challenge's problem.
async fn challenge_failure(config: &Config, order: &mut instant_acme::Order) -> AcmeError {
    let mut authorizations = order.authorizations();
    while let Some(Ok(authz)) = authorizations.next().await {
        let failed = authz.challenges.iter().find_map(|c| c.error.as_ref());
        if let Some(problem) = failed {
            let detail = problem.detail.clone().unwrap_or_else(|| problem.to_string());
            return challenge_error(config, authz.identifier().to_string(), detail);
        }
    }
    let detail = "the order became invalid and the server said no more".into();
    challenge_error(config, config.acme_domain_list(), detail)
}

/// A token is base64url (RFC 8555 §8.3); anything else could name a path.
fn plain_token(token: &str) -> Result<String, AcmeError> {
    let plain = !token.is_empty()
        && token.len() <= 256
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if plain {
        Ok(token.to_owned())
    } else {
        Err(AcmeError::BadToken(token.to_owned()))
    }
}

/// `<acme_dir>` and `<acme_dir>/<name>` only let nginx's workers pass
/// through (0711); `challenges/` is theirs to read (0755).
pub fn prepare_dirs(config: &Config) -> Result<(), AcmeError> {
    let home = config.acme_home();
    for (dir, mode) in [
        (config.proxy.tls.acme_dir.as_path(), 0o711),
        (home.as_path(), 0o711),
        (config.acme_challenges().as_path(), 0o755),
    ] {
        let io = |source| AcmeError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(io)?;
    }
    Ok(())
}

/// The stored account for this directory, or a new one (stored 0600).
async fn account(config: &Config) -> Result<Account, AcmeError> {
    let directory = config
        .proxy
        .tls
        .acme_directory
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_default();
    let failed = |source| AcmeError::Account {
        directory: directory.clone(),
        source,
    };
    let path = config.acme_home().as_path().join("account.json");
    if let Some(stored) = stored_account(&path)?
        && stored.directory == directory
    {
        return builder(config)
            .map_err(failed)?
            .from_credentials(stored.credentials)
            .await
            .map_err(failed);
    }
    let contact = config.proxy.tls.acme_email.as_ref().map(|e| format!("mailto:{e}"));
    let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contacts,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = builder(config)
        .map_err(failed)?
        .create(&new, directory.clone(), None)
        .await
        .map_err(failed)?;
    let stored = Stored { directory, credentials };
    let json = serde_json::to_vec_pretty(&stored).expect("credentials serialise");
    write_private(&path, &json)?;
    tracing::info!(
        "tls: new ACME account at {}, kept in {}",
        stored.directory,
        path.display()
    );
    Ok(account)
}

fn stored_account(path: &Path) -> Result<Option<Stored>, AcmeError> {
    match std::fs::read(path) {
        // One we cannot read back is replaced by a new account.
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AcmeError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The account's HTTP client: the system's roots, or only `acme_ca`.
fn builder(config: &Config) -> Result<instant_acme::AccountBuilder, instant_acme::Error> {
    match &config.proxy.tls.acme_ca {
        Some(ca) => Account::builder_with_root(ca.as_path()),
        None => Account::builder(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_base64url_tokens_become_file_names() {
        assert!(plain_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0").is_ok());
        for bad in ["", "../../etc/passwd", "a/b", "a.b", "tok\n", "%2e%2e"] {
            assert!(matches!(plain_token(bad), Err(AcmeError::BadToken(_))), "{bad:?}");
        }
    }
}
