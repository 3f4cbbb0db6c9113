use std::path::Path;

use super::*;

const MINIMAL: &str = "name = \"bdd_assistant\"\nimage = \"vfarcic/technologyconversationsbdd\"\n";

fn with(extra: &str) -> Result<Config, ParseError> {
    Config::parse(&format!("{MINIMAL}{extra}"))
}

fn fixture(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/configs")
        .join(name);
    Config::load(&path).unwrap()
}

#[test]
fn the_design_example_spells_out_exactly_the_defaults() {
    let explicit = fixture("bdd_assistant.toml");
    let mut minimal = fixture("minimal.toml");
    // The example sets the values that default from the name; spell them out.
    minimal.proxy.site = Some(minimal.site());
    minimal.state.prefix = Some(minimal.prefix());
    minimal.container.env = explicit.container.env.clone();
    // And the proxy test of a containerised nginx, for `provision`.
    minimal.proxy.test = explicit.proxy.test.clone();
    assert_eq!(explicit, minimal);
}

#[test]
fn name_dependent_defaults_follow_the_classic_recipe() {
    let c = with("").unwrap();
    assert_eq!(c.site().as_str(), "/etc/nginx/sites-enabled/bdd_assistant.conf");
    assert_eq!(c.prefix().as_str(), "/bdd-assistant");
    assert_eq!(c.state_path().as_str(), "/var/lib/bgctl/bdd_assistant.json");
    assert_eq!((c.port(Color::Blue).get(), c.port(Color::Green).get()), (9001, 9002));
    assert_eq!(c.container.stop_timeout.ceil_secs(), 10);
    assert_eq!(
        c.systemd.docker_unit.as_ref().map(|u| u.as_str()),
        Some("docker.service")
    );
}

#[test]
fn empty_strings_mean_none_for_advertise_and_docker_unit() {
    let c = with("[container]\nadvertise = \"\"\n[systemd]\ndocker_unit = \"\"\n").unwrap();
    assert_eq!((c.container.advertise, c.systemd.docker_unit), (None, None));
}

#[test]
fn unknown_keys_are_refused_naming_the_key_and_line() {
    let Err(ParseError::Toml(msg)) = with("\n[proxy]\nlisten = 80\nlsiten = 81\n") else {
        panic!("an unknown key parsed");
    };
    assert!(msg.contains("line 6"), "{msg}");
    assert!(msg.contains("lsiten"), "{msg}");
    let Err(ParseError::Toml(msg)) = with("colour = \"blue\"\n") else {
        panic!("an unknown top-level key parsed");
    };
    assert!(msg.contains("line 3") && msg.contains("colour"), "{msg}");
}

#[test]
fn bad_values_are_refused_with_their_line() {
    for (extra, needle) in [
        ("[container]\nenv = { A = \"x\\ny\" }\n", "control character"),
        ("[container]\nenv = { \"A-B\" = \"x\" }\n", "environment variable name"),
        ("[container]\nargs = [\"a\\u0000\"]\n", "control character"),
        ("[colors]\nblue = 0\n", "between 1 and 65535"),
        ("[colors]\nblue = 70000\n", "between 1 and 65535"),
        ("[health]\ntimeout = \"sixty\"\n", "duration"),
        ("[health]\ntimeout = 60\n", "string"),
        ("[systemd]\nunit_dir = \"etc/systemd\"\n", "absolute"),
        ("[systemd]\nunit_dir = \"/etc/../tmp\"\n", "'..'"),
        ("[proxy]\nserver_name = \"a; return 200\"\n", "server_name"),
        ("[docker]\nhost = \"/var/run/docker.sock\"\n", "docker host"),
        ("[checks]\ncommand = [\"smoke\"]\n", "absolute"),
        (
            "[hooks]\npre_flip = [\"/bin/migrate\", \"a\\nExecStart=/bin/sh\"]\n",
            "control character",
        ),
        (
            "[hooks]\npost_switch = [\"/bin/notify\", \"ok\\r\"]\n",
            "control character",
        ),
        ("[checks]\nhttp = [{ path = \"/ x\" }]\n", "health path"),
        ("[checks]\nhttp = [{ path = \"/\", status = 700 }]\n", "HTTP status"),
        (
            "[checks]\nhttp = [{ path = \"/\", body = \"x\" }]\n",
            "unknown field `body`",
        ),
        ("[proxy]\npreview_listen = 70000\n", "port"),
        ("[guard]\nmax_error_ratio = 1.5\n", "error ratio"),
        ("[guard]\nmin_requests = -1\n", "min_requests"),
        ("[guard]\nlog = \"guard.json\"\n", "absolute"),
        ("[proxy]\ndrain_wait = \"some\"\n", "drain_wait"),
        ("[proxy]\nverify = [\"https://proxy-2\"]\n", "proxy URL"),
        ("[proxy]\nverify = [\"http://a;b:80\"]\n", "proxy URL"),
        ("[proxy]\nclient_max_body_size = \"10mb\"\n", "size"),
        ("[proxy]\nclient_max_body_size = \"1m; include /x\"\n", "size"),
        ("[proxy]\nread_timeout = \"forever\"\n", "duration"),
        ("[proxy]\ninclude = \"extra.conf\"\n", "absolute"),
        ("[proxy]\nkeepalive = -1\n", "keepalive"),
        ("[proxy.tls]\nlisten = 70000\n", "port"),
        ("[proxy.tls]\ncert = \"cert.pem\"\n", "absolute"),
        ("[proxy.tls]\nhsts = \"a year\"\n", "duration"),
        ("[proxy.tls]\nacme_email = \"ops\"\n", "e-mail"),
        ("[proxy.tls]\nacme_directory = \"ftp://x\"\n", "URL"),
        ("[proxy.tls]\nacme_domains = [\"a b\"]\n", "host name"),
        ("[container]\nenv_file = \"secrets.env\"\n", "absolute"),
        ("[container]\nallowed_images = [\"Evil Image\"]\n", "image reference"),
    ] {
        match with(extra) {
            Err(ParseError::Toml(msg)) => {
                assert!(msg.contains(needle), "{extra:?}: {msg}");
                assert!(msg.contains("line "), "{extra:?}: {msg}");
            }
            other => panic!("{extra:?} gave {other:?}"),
        }
    }
    assert!(matches!(
        Config::parse("name = \"Bad\"\nimage = \"x\"\n"),
        Err(ParseError::Toml(_))
    ));
    assert!(matches!(
        Config::parse("name = \"ok\"\nimage = \"x y\"\n"),
        Err(ParseError::Toml(_))
    ));
    assert!(matches!(Config::parse("name = \"ok\"\n"), Err(ParseError::Toml(m)) if m.contains("image")));
}

#[test]
fn fields_that_do_not_fit_together_are_refused() {
    let port = |n| Port::new(n).unwrap();
    for (extra, problem) in [
        ("[colors]\nblue = 9002\n", Problem::ColorPortClash(port(9002))),
        ("[proxy]\nlisten = 9001\n", Problem::ListenClash(port(9001))),
        (
            "[health]\ninterval = \"0s\"\n",
            Problem::ZeroDuration { key: "health.interval" },
        ),
        ("[state]\ncert = \"/c.pem\"\n", Problem::TlsPairIncomplete),
        ("[state]\npassword = \"p\"\n", Problem::PasswordWithoutUser),
        ("[state]\nendpoints = []\n", Problem::NoEndpoints),
        (
            "[systemd]\nunit_dir = \"/etc/a\\\\b\"\n",
            Problem::UnitDirBackslash("/etc/a\\b".into()),
        ),
        ("[proxy]\npreview_listen = 80\n", Problem::PreviewClash(port(80))),
        ("[proxy]\npreview_listen = 9002\n", Problem::PreviewClash(port(9002))),
        (
            "[checks]\ntimeout = \"0s\"\n",
            Problem::ZeroDuration { key: "checks.timeout" },
        ),
        (
            "[guard]\nlog = \"/var/log/a b;\"\n",
            Problem::GuardLogPath("/var/log/a b;".into()),
        ),
        (
            "[guard]\nlog = \"/etc/nginx/nginx.conf\"\n",
            Problem::GuardLogPath("/etc/nginx/nginx.conf".into()),
        ),
        (
            "[proxy]\ninclude = \"/etc/nginx/my extra.conf\"\n",
            Problem::SitePath {
                key: "proxy.include",
                path: "/etc/nginx/my extra.conf".into(),
            },
        ),
        (
            "[proxy]\nread_timeout = \"0s\"\n",
            Problem::ZeroDuration {
                key: "proxy.read_timeout",
            },
        ),
        ("[proxy.tls]\nlisten = 443\n", Problem::TlsWithoutCert),
        (
            "[proxy.tls]\nlisten = 443\ncert = \"/c.pem\"\n",
            Problem::TlsWithoutCert,
        ),
        ("[proxy.tls]\ncert = \"/c.pem\"\n", Problem::TlsWithoutListen("cert")),
        (
            "[proxy.tls]\nlisten = 80\ncert = \"/c\"\nkey = \"/k\"\n",
            Problem::TlsListenClash(port(80)),
        ),
        (
            "[proxy.tls]\nlisten = 443\nacme = true\n",
            Problem::AcmeWithoutDirectory,
        ),
        (
            "[proxy.tls]\nlisten = 443\nacme = true\nacme_directory = \"https://acme.example/dir\"\n",
            Problem::AcmeWithoutDomains,
        ),
        (
            "[container]\nallowed_images = [\"vfarcic/technologyconversationsbdd:1.2\"]\n",
            Problem::AllowedImageWithTag("vfarcic/technologyconversationsbdd:1.2".into()),
        ),
        (
            "[container]\nallowed_images = [\"registry.example.com/other\"]\n",
            Problem::ImageNotAllowed {
                image: "vfarcic/technologyconversationsbdd".parse().unwrap(),
                allowed: "registry.example.com/other".into(),
            },
        ),
    ] {
        assert_eq!(with(extra), Err(ParseError::Invalid(problem)), "{extra}");
    }
    assert!(with("[state]\nbackend = \"file\"\nendpoints = []\n").is_ok());
}

#[test]
fn checks_hooks_and_the_preview_default_to_none_and_keep_every_word() {
    let c = with("").unwrap();
    assert!(c.checks.http.is_empty() && c.checks.command.is_none());
    assert_eq!(c.checks.timeout.get(), std::time::Duration::from_secs(60));
    assert_eq!((&c.hooks.pre_flip, &c.hooks.post_switch), (&None, &None));
    assert_eq!(c.proxy.preview_listen, None);
    let c = with(concat!(
        "[proxy]\npreview_listen = 8081\n",
        "[checks]\nhttp = [{ path = \"/v\", contains = \"v2\" }, { path = \"/x?y=1\", status = 404 }]\n",
        "command = [\"/bin/smoke\", \"it's\", \"$HOME\", \"a \\\"b\\\"\"]\ntimeout = \"5s\"\n",
        "[hooks]\npre_flip = [\"/bin/migrate\"]\npost_switch = []\n",
    ))
    .unwrap();
    assert_eq!(c.proxy.preview_listen.map(Port::get), Some(8081));
    assert_eq!(c.checks.http.len(), 2);
    assert_eq!(
        (c.checks.http[0].status.get(), c.checks.http[1].status.get()),
        (200, 404)
    );
    assert_eq!(c.checks.http[0].contains.as_str(), "v2");
    let words: Vec<&str> = c.checks.command.as_ref().unwrap().args().collect();
    assert_eq!(words, ["it's", "$HOME", "a \"b\""]);
    assert_eq!(c.hooks.pre_flip.unwrap().to_string(), "/bin/migrate");
    assert_eq!(c.hooks.post_switch, None);
}

#[test]
fn locate_follows_config_then_service_then_the_only_file() {
    let dir = std::env::temp_dir().join(format!("bgctl-locate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let explicit = ConfigSource::File("/x/y.toml".into());
    assert_eq!(locate(&explicit, &dir).unwrap(), Path::new("/x/y.toml"));
    let named = ConfigSource::Service(ServiceName::parse("web").unwrap());
    assert_eq!(locate(&named, &dir).unwrap(), dir.join("web.toml"));
    assert!(matches!(
        locate(&ConfigSource::Only, &dir),
        Err(ConfigError::NotFound { .. })
    ));
    std::fs::write(dir.join("a.toml"), MINIMAL).unwrap();
    std::fs::write(dir.join("notes.txt"), "").unwrap();
    assert_eq!(locate(&ConfigSource::Only, &dir).unwrap(), dir.join("a.toml"));
    std::fs::write(dir.join("b.toml"), MINIMAL).unwrap();
    match locate(&ConfigSource::Only, &dir) {
        Err(ConfigError::Ambiguous { names, .. }) => assert_eq!(names, "a, b"),
        other => panic!("{other:?}"),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn url_and_upstream_follow_publish_and_advertise() {
    let c = with("").unwrap();
    assert_eq!(c.url(Color::Green), "127.0.0.1:9002");
    assert_eq!(c.upstream_ip().to_string(), "127.0.0.1");
    let c = with("[container]\npublish = \"0.0.0.0\"\nadvertise = \"web-1.internal\"\n").unwrap();
    assert_eq!(c.url(Color::Blue), "web-1.internal:9001");
    assert_eq!(c.upstream_ip().to_string(), "127.0.0.1");
    let c = with("[container]\npublish = \"::1\"\n").unwrap();
    assert_eq!(c.url(Color::Blue), "[::1]:9001");
}

#[test]
fn only_images_of_an_allowed_repository_may_run() {
    let c = with("").unwrap();
    for ok in [
        "vfarcic/technologyconversationsbdd:1.2",
        "vfarcic/technologyconversationsbdd@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ] {
        assert!(c.check_image(&ok.parse().unwrap()).is_ok(), "{ok}");
    }
    for bad in [
        "evil/technologyconversationsbdd:latest",
        "vfarcic/technologyconversationsbdd-evil",
        "registry.evil/vfarcic/technologyconversationsbdd",
    ] {
        assert!(
            matches!(
                c.check_image(&bad.parse().unwrap()),
                Err(Problem::ImageNotAllowed { .. })
            ),
            "{bad}"
        );
    }
    let listed =
        with("[container]\nallowed_images = [\"vfarcic/technologyconversationsbdd\", \"team/canary\"]\n").unwrap();
    assert!(listed.check_image(&"team/canary:7".parse().unwrap()).is_ok());
}

#[test]
fn health_docker_defaults_to_exec_and_takes_only_its_three_words() {
    assert_eq!(with("").unwrap().health.docker, DockerHealth::Exec);
    assert_eq!(fixture("full.toml").health.docker, DockerHealth::Wait);
    let ignore = with("[health]\ndocker = \"ignore\"\n").unwrap();
    assert_eq!(ignore.health.docker, DockerHealth::Ignore);
    let Err(ParseError::Toml(message)) = with("[health]\ndocker = \"poll\"\n") else {
        panic!("docker = \"poll\" was taken");
    };
    assert!(message.contains("exec") && message.contains("wait"), "{message}");
}
