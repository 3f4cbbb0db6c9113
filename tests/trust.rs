//! Whoever can write etcd cannot choose what runs as root here (DESIGN §10):
//! an image from the state store outside `[container] allowed_images` is
//! refused, and nothing is started.

mod support;

use support::etcd::Cluster;
use support::{Service, TestEnv, etcdctl, ports, stderr, stdout};

#[test]
fn reconcile_refuses_a_stored_image_from_another_repository_and_starts_nothing() {
    let env = TestEnv::get();
    let svc = Service::new(&env, "trust_img", ports(), "");
    svc.install();
    svc.run(&["switch"]).run();
    let unit = svc.unit("blue");
    let o = env.in_sandbox(&["systemctl", "stop", unit.as_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let image_file = env.unit_dir().join("trust_img_blue@.service.d/image.env");
    let before = std::fs::read_to_string(&image_file).unwrap();

    // A compromised proxy host (it holds etcd credentials) names its image.
    for key in ["image", "trust_img_blue/image"] {
        svc.etcd_put(key, "evil/miner:latest");
    }
    let o = svc.run(&["reconcile"]).status(2).run();
    assert!(
        stderr(&o).contains("evil/miner:latest") && stderr(&o).contains("allowed_images"),
        "{}",
        stderr(&o)
    );
    assert!(!svc.is_active("blue"), "reconcile started the color");
    assert_eq!(
        std::fs::read_to_string(&image_file).unwrap(),
        before,
        "the image file names another image"
    );

    // The stored image put back, reconcile heals; --image is held to the same list.
    for key in ["image", "trust_img_blue/image"] {
        svc.etcd_put(key, "bgctl-demo:v1");
    }
    svc.run(&["reconcile"]).run();
    assert!(svc.is_active("blue"));
    let o = svc.run(&["switch", "--image", "evil/miner:latest"]).status(2).run();
    assert!(
        stderr(&o).contains("outside container.allowed_images"),
        "{}",
        stderr(&o)
    );
    assert!(!svc.is_active("green"), "switch started the color");
    svc.assert_live("blue", "v1");
}

/// The `[state]` keys for `user` on a config, made root-only as a
/// password-bearing config must be.
fn with_user(svc: &Service, path: &std::path::Path, user: &str, password: &str) {
    use std::os::unix::fs::PermissionsExt;
    let text = std::fs::read_to_string(&svc.config).unwrap().replace(
        "[state]\n",
        &format!("[state]\nuser = \"{user}\"\npassword = \"{password}\"\n"),
    );
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_proxy_host_follows_the_state_with_a_read_only_role_and_doctor_tells_the_roles_apart() {
    let env = TestEnv::get();
    let cluster = Cluster::start(&env, "trustro", 1, 24450);
    let ep = cluster.clients[0].as_str();
    let prefix = "/trust-ro";
    for args in [
        vec!["user", "add", "root", "--new-user-password=rootpw"],
        vec!["role", "add", "bgctl-deploy"],
        vec![
            "role",
            "grant-permission",
            "bgctl-deploy",
            "--prefix=true",
            "readwrite",
            prefix,
        ],
        vec!["user", "add", "deployer", "--new-user-password=deploypw"],
        vec!["user", "grant-role", "deployer", "bgctl-deploy"],
        vec!["role", "add", "bgctl-proxy"],
        vec![
            "role",
            "grant-permission",
            "bgctl-proxy",
            "--prefix=true",
            "read",
            prefix,
        ],
        vec!["user", "add", "proxy", "--new-user-password=proxypw"],
        vec!["user", "grant-role", "proxy", "bgctl-proxy"],
        vec!["auth", "enable"],
    ] {
        etcdctl(ep, &args);
    }
    let mut svc = Service::new(&env, "trust_ro", ports(), "");
    svc.use_etcd(&cluster);
    let deploy_config = svc.config.clone();
    let proxy_config = env.dir().join("configs/trust_ro.proxy.toml");
    with_user(&svc, &proxy_config, "proxy", "proxypw");
    with_user(&svc, &deploy_config, "deployer", "deploypw");
    svc.install();
    svc.run(&["switch"]).run();

    // The proxy host renders the site from what it may only read.
    let site = std::path::PathBuf::from(env.var("BGCTL_TEST_NGINX_SITES")).join("trust_ro.conf");
    let served = std::fs::read_to_string(&site).unwrap();
    std::fs::remove_file(&site).unwrap();
    let as_proxy = |args: &[&str]| {
        let mut all = vec!["--config", proxy_config.to_str().unwrap()];
        all.extend_from_slice(args);
        support::bgctl(&all)
    };
    let o = as_proxy(&["proxy", "sync"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&site).unwrap(), served);
    // (etcdctl without credentials reads nothing now: ask nginx.)
    let blue_serves = || support::answer_on(svc.listen).is_some_and(|(status, _)| status.ends_with("200 OK blue"));
    assert!(blue_serves());
    // And it cannot write: a switch with its credentials is refused by etcd.
    let o = as_proxy(&["switch"]);
    assert_ne!(o.status.code(), Some(0), "a read-only role deployed: {}", stderr(&o));
    assert!(stderr(&o).contains("permission denied"), "{}", stderr(&o));
    assert!(blue_serves());

    let role = |o: std::process::Output| {
        let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let check = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "role")
            .cloned();
        check.unwrap_or_else(|| panic!("no role check: {report}"))
    };
    let deployer = role(svc.bgctl(&["--json", "doctor"]));
    assert!(
        deployer["ok"] == true && deployer["detail"].as_str().unwrap().contains("can write"),
        "{deployer}"
    );
    let proxy = role(as_proxy(&["--json", "doctor"]));
    assert!(
        proxy["ok"] == true && proxy["detail"].as_str().unwrap().contains("only reads"),
        "{proxy}"
    );
}
