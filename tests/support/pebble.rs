//! Debian's pebble (the ACME test server) and pebble-challtestsrv (its DNS:
//! every name is 127.0.0.1), started by a test and stopped when dropped.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{TestEnv, stderr, wait_for};

pub struct Pebble {
    children: Vec<Child>,
    /// The directory URL, for `acme_directory`.
    pub directory: String,
    /// The root of pebble's own HTTPS certificate, for `acme_ca`.
    pub ca: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Pebble {
    /// pebble on `port` (its management API on `port + 1`, challtestsrv's
    /// DNS on `port + 2` and its API on `port + 3`), validating HTTP-01 on
    /// nginx's plain port `http_port`. Each authorization is validated anew.
    pub fn start(env: &TestEnv, port: u16, http_port: u16) -> Pebble {
        let dir = env.dir().join(format!("pebble-{port}"));
        std::fs::create_dir_all(&dir).unwrap();
        // A test CA and a server certificate it signed: rustls takes no
        // CA certificate as a server's own.
        let (ca, cert, key) = (dir.join("ca.pem"), dir.join("pebble.pem"), dir.join("pebble.key"));
        let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
        let script = format!(
            "set -e; cd {dir}
             openssl req -x509 {ec} -subj /CN=pebble-test-ca -days 30 -keyout ca.key -out ca.pem
             openssl req {ec} -subj /CN=pebble -keyout pebble.key -out pebble.csr
             printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext
             openssl x509 -req -in pebble.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -extfile ext -out pebble.pem",
            dir = dir.display()
        );
        let o = Command::new("sh").args(["-c", &script]).output().expect("openssl runs");
        assert!(o.status.success(), "openssl: {}", stderr(&o));
        let config = dir.join("pebble.json");
        std::fs::write(
            &config,
            serde_json::json!({"pebble": {
                "listenAddress": format!("127.0.0.1:{port}"),
                "managementListenAddress": format!("127.0.0.1:{}", port + 1),
                "certificate": cert, "privateKey": key,
                "httpPort": http_port, "tlsPort": 5001,
                "ocspResponderURL": "", "externalAccountBindingRequired": false,
            }})
            .to_string(),
        )
        .unwrap();
        let dns = format!("127.0.0.1:{}", port + 2);
        let challtestsrv = spawn(
            Command::new("pebble-challtestsrv")
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", "", "-dns01", &dns])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-management", &format!("127.0.0.1:{}", port + 3)]),
            &dir.join("challtestsrv.log"),
        );
        let pebble = spawn(
            Command::new("pebble")
                .args(["-config", config.to_str().unwrap(), "-dnsserver", &dns])
                // No random delays, nonce rejections or reused authorizations:
                // every run validates, and fast.
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .env("PEBBLE_AUTHZREUSE", "0"),
            &dir.join("pebble.log"),
        );
        let pebble = Pebble {
            children: vec![challtestsrv, pebble],
            directory: format!("https://127.0.0.1:{port}/dir"),
            ca,
        };
        let up = wait_for(Duration::from_secs(20), || {
            let o = Command::new("curl")
                .args(["-sf", "--cacert", pebble.ca.to_str().unwrap(), &pebble.directory])
                .output()
                .ok()?;
            o.status.success().then_some(())
        });
        assert!(up.is_some(), "pebble did not come up; see {}", dir.display());
        pebble
    }

    /// The `[proxy.tls]` ACME keys for this server, with `acme_dir` at `dir`.
    pub fn tls_keys(&self, listen: u16, dir: &Path) -> String {
        format!(
            "[proxy.tls]\nlisten = {listen}\nacme = true\nacme_directory = \"{}\"\nacme_ca = \"{}\"\nacme_email = \"ops@bgctl.test\"\nacme_dir = \"{}\"\n",
            self.directory,
            self.ca.display(),
            dir.display()
        )
    }
}

fn spawn(cmd: &mut Command, log: &Path) -> Child {
    let out = std::fs::File::create(log).unwrap();
    cmd.stdout(out.try_clone().unwrap())
        .stderr(out)
        .stdin(Stdio::null())
        .spawn()
        .expect("pebble runs (apt-get install pebble)")
}
