use serde::Deserialize;

use super::{AbsPath, InvalidValue, accept, is_host_port, validated_string};

/// Where dockerd listens: `unix:///absolute/path` or `tcp://host:port`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub struct DockerHost(String);

impl DockerHost {
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let ok = if let Some(path) = s.strip_prefix("unix://") {
            AbsPath::parse(path).is_ok() && !path.contains(char::is_whitespace)
        } else if let Some(addr) = s.strip_prefix("tcp://") {
            is_host_port(addr)
        } else {
            false
        };
        accept(
            ok,
            "docker host",
            s,
            "expected unix:///path/to/docker.sock or tcp://host:port",
        )
        .map(Self)
    }

    /// The socket path of a `unix://` host.
    pub fn unix_socket(&self) -> Option<&str> {
        self.0.strip_prefix("unix://")
    }
}

validated_string!(DockerHost);

#[cfg(test)]
mod tests {
    use super::DockerHost;

    #[test]
    fn docker_host_accepts_unix_and_tcp() {
        let unix = DockerHost::parse("unix:///var/run/docker.sock").unwrap();
        assert_eq!(unix.unix_socket(), Some("/var/run/docker.sock"));
        assert!(DockerHost::parse("tcp://127.0.0.1:2375").is_ok());
        for bad in [
            "",
            "/var/run/docker.sock",
            "unix://rel",
            "unix:///a b",
            "tcp://h",
            "tcp://h:0",
            "http://h:1",
        ] {
            assert!(DockerHost::parse(bad).is_err(), "{bad:?}");
        }
    }
}
