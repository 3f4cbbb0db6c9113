//! `[proxy] test`: nginx's own judgement of the whole configuration.

use super::ProxyError;
use crate::config::Config;
use crate::domain::Argv;

/// nginx -t and a reload finish in well under this.
pub(super) const NGINX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// `[proxy] test` (by default `nginx -t -q -c <nginx_conf>`): Ok, or the
/// test's own words.
pub async fn test_config(config: &Config) -> Result<(), ProxyError> {
    run_test(&config.proxy_test()).await.map(drop)
}

/// Runs a config test `argv`: what it printed on stdout (`nginx -T`'s
/// dump), or the test's own words.
pub async fn run_test(argv: &Argv) -> Result<String, ProxyError> {
    let run = tokio::process::Command::new(argv.program().as_path())
        .args(argv.args())
        .kill_on_drop(true)
        .output();
    let cannot = |reason: String| ProxyError::NginxBinary {
        bin: argv.program().to_string(),
        reason,
    };
    let output = tokio::time::timeout(NGINX_TIMEOUT, run)
        .await
        .map_err(|_| cannot(format!("`{argv}` took longer than {NGINX_TIMEOUT:?}")))?
        .map_err(|e| cannot(e.to_string()))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    // nginx speaks on stderr; `docker exec` may add its own lines on stdout.
    let said = [&output.stderr[..], &output.stdout[..]]
        .map(|b| String::from_utf8_lossy(b).trim().to_owned())
        .join("\n");
    Err(ProxyError::Invalid {
        message: said.trim().to_owned(),
    })
}
