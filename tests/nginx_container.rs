//! nginx as a container (DESIGN §9): the classic recipe's shape, and the
//! only one on Flatcar and CoreOS, which ship no nginx. The unit and
//! nginx.conf are the ones `bgctl provision` prints for this config, run in
//! the sandbox with an nginx image built FROM scratch of Debian's binary;
//! the site is tested with `docker exec` (`[proxy] test`) and reloaded by
//! the unit's `ExecReload` (SIGHUP to the container). Switches under load
//! fail no request.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use support::{Load, Service, TestEnv, port, ports, stderr, stdout, wait_for};

const UNIT: &str = "bgctl-nginxc.service";
const CONTAINER: &str = "bgctl-nginxc";

/// Stops the proxy's unit and removes its file when the test ends.
struct ProxyUnit<'a>(&'a TestEnv);

impl Drop for ProxyUnit<'_> {
    fn drop(&mut self) {
        let _ = self.0.in_sandbox(&["systemctl", "stop", UNIT]);
        let _ = std::fs::remove_file(self.0.unit_dir().join(UNIT));
        let _ = self.0.in_sandbox(&["systemctl", "daemon-reload"]);
    }
}

/// Puts the files the host would get for the proxy unit and nginx_conf in
/// place (from the Butane form, whose files are inline text).
fn write_provisioned(env: &TestEnv, doc: &Value, nginx_conf: &Path) {
    let units = doc["systemd"]["units"].as_array().unwrap();
    let unit = units
        .iter()
        .find(|u| u["name"] == UNIT)
        .expect("provision writes the proxy unit");
    std::fs::write(env.unit_dir().join(UNIT), unit["contents"].as_str().unwrap()).unwrap();
    let files = doc["storage"]["files"].as_array().unwrap();
    let conf = files
        .iter()
        .find(|f| f["path"] == nginx_conf.to_str().unwrap())
        .expect("provision writes nginx.conf");
    std::fs::create_dir_all(nginx_conf.parent().unwrap()).unwrap();
    std::fs::write(nginx_conf, conf["contents"]["inline"].as_str().unwrap()).unwrap();
}

#[test]
fn switches_through_a_containerised_nginx_fail_no_request() {
    let env = TestEnv::get();
    let name = "ngx_container";
    let dir: PathBuf = env.dir().join("nginx-container");
    // The unit's ExecStartPre makes the sites directory, as on a new host.
    let _ = std::fs::remove_dir_all(&dir);
    let sites = dir.join("sites");
    let conf = dir.join("nginx.conf");
    let docker_host = env.var("BGCTL_TEST_DOCKER_HOST");
    let proxy = format!(
        "site = \"{sites}/{name}.conf\"\nnginx_conf = \"{conf}\"\nunit = \"{UNIT}\"\n\
         test = [\"/usr/bin/docker\", \"-H\", \"{docker_host}\", \"exec\", \"{CONTAINER}\", \"nginx\", \"-t\", \"-q\", \"-c\", \"{conf}\"]\n",
        sites = sites.display(),
        conf = conf.display(),
    );
    let _unit = ProxyUnit(&env);
    let svc = Service::with_proxy(&env, name, ports(), &proxy, "");

    let o = svc.bgctl(&["provision", "butane", "--nginx-image", "bgctl-nginx:test"]);
    assert_eq!(o.status.code(), Some(0), "provision: {}", stderr(&o));
    write_provisioned(&env, &serde_norway::from_str(&stdout(&o)).unwrap(), &conf);
    for cmd in [&["systemctl", "daemon-reload"][..], &["systemctl", "start", UNIT]] {
        let o = env.in_sandbox(cmd);
        assert!(o.status.success(), "{cmd:?}: {}", stderr(&o));
    }
    let running = wait_for(Duration::from_secs(30), || {
        let o = env.docker(&["inspect", "-f", "{{.State.Running}}", CONTAINER]);
        (stdout(&o).trim() == "true").then_some(())
    });
    assert!(running.is_some(), "the nginx container did not start");

    svc.install();
    let (status, body) = svc.answer().expect("the container's nginx answers");
    assert!(
        status.starts_with("HTTP/1.1 503") && body.contains("no color of"),
        "{status} {body}"
    );
    let switch = |image: &str| {
        let o = svc.bgctl(&["switch", "--image", image]);
        assert_eq!(o.status.code(), Some(0), "switch: {}", stderr(&o));
    };
    switch("bgctl-demo:v1");
    svc.assert_live("blue", "v1");

    let load = Load::start(svc.listen, 8, 50, Duration::from_secs(600));
    for round in 0..6 {
        let (color, image, version) = if round % 2 == 0 {
            ("green", "bgctl-demo:v2", "v2")
        } else {
            ("blue", "bgctl-demo:v1", "v1")
        };
        switch(image);
        svc.assert_live(color, version);
    }
    let result = load.stop();
    eprintln!(
        "load through the containerised nginx over 6 switches: {} requests, {} failed",
        result.requests(),
        result.failed()
    );
    result.assert_no_failures();
    assert!(result.requests() > 500, "the load barely ran: {}", result.report);

    // A site the container's nginx refuses: exit 1, and it keeps serving.
    std::fs::write(
        sites.join("broken.conf"),
        format!("server {{ listen {}; bogus_directive on; }}\n", port()),
    )
    .unwrap();
    let o = svc.bgctl(&["switch", "--image", "bgctl-demo:v2"]);
    std::fs::remove_file(sites.join("broken.conf")).unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("bogus_directive"),
        "nginx -t's words, from the container: {}",
        stderr(&o)
    );
    svc.assert_live("blue", "v1");
}
