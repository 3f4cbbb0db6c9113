use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use serde_norway::Value as Yaml;

use super::*;
use crate::config::Config;
use crate::domain::AbsPath;
use crate::render::boot_units;
use crate::render::tests::{nasty, toml_string};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture_text() -> String {
    std::fs::read_to_string(root().join("fixtures/configs/bdd_assistant.toml")).unwrap()
}

fn options(variant: Variant) -> Options {
    Options {
        variant,
        binary: Some(Download {
            url: EXAMPLE_URL.parse().unwrap(),
            sha512: Some(EXAMPLE_SHA512.parse().unwrap()),
        }),
        nginx_image: DEFAULT_NGINX_IMAGE.parse().unwrap(),
        etcd_image: DEFAULT_ETCD_IMAGE.parse().unwrap(),
        password: None,
    }
}

/// The download address in the committed examples.
const EXAMPLE_URL: &str = "https://example.com/bgctl/0.1.0/bgctl-x86_64-linux";
/// Its digest there: a placeholder no download matches.
const EXAMPLE_SHA512: &str = "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000";

fn print(format: Format, variant: Variant, text: &str) -> String {
    let config = Config::parse(text).unwrap();
    provision(format, &config, text, &options(variant)).unwrap()
}

/// Compares `text` with `packaging/<relative>`; `BGCTL_BLESS=1` rewrites it.
fn assert_committed(relative: &str, text: &str) {
    let path: PathBuf = root().join("packaging").join(relative);
    if std::env::var_os("BGCTL_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        text, committed,
        "packaging/{relative} differs from what bgctl generates"
    );
}

/// What `bgctl install`/the .deb would write for bgctl's own units with the binary at `bgctl`.
fn own_units(bgctl: &str) -> Vec<(String, String)> {
    let units = boot_units(&AbsPath::parse(bgctl).unwrap()).unwrap();
    units.into_iter().map(|(name, text)| (name.to_owned(), text)).collect()
}

#[test]
fn the_committed_examples_are_what_provision_prints_for_the_design_example() {
    let text = fixture_text();
    let cases = [
        ("bdd_assistant.cloud-config.yaml", Format::CloudConfig, Variant::Flatcar),
        ("bdd_assistant.ign", Format::Ignition, Variant::Flatcar),
        ("bdd_assistant.flatcar.bu", Format::Butane, Variant::Flatcar),
        ("bdd_assistant.fcos.bu", Format::Butane, Variant::Fcos),
    ];
    for (file, format, variant) in cases {
        assert_committed(&format!("provision/{file}"), &print(format, variant, &text));
    }
}

#[test]
fn the_shipped_units_are_what_bgctl_renders() {
    let bgctl = AbsPath::parse("/usr/bin/bgctl").unwrap();
    let proxy = crate::render::proxy_unit(&bgctl).unwrap();
    let renew = crate::render::renew_units(&bgctl).unwrap();
    for (name, text) in boot_units(&bgctl).unwrap().into_iter().chain([proxy]).chain(renew) {
        assert_committed(&format!("systemd/{name}"), &text);
    }
}

fn ignition_schema() -> jsonschema::Validator {
    let path = root().join("tests/data/ignition/ignition-3.3.0.schema.json");
    let schema: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

/// The files an Ignition document writes, decoded, by path.
fn ignition_files(doc: &Json) -> Vec<(String, u64, String)> {
    doc["storage"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let source = f["contents"]["source"].as_str().unwrap();
            let contents =
                data_url::decode(source).map_or_else(|| source.to_owned(), |b| String::from_utf8(b).unwrap());
            (
                f["path"].as_str().unwrap().to_owned(),
                f["mode"].as_u64().unwrap(),
                contents,
            )
        })
        .collect()
}

fn unit_contents<'a>(units: impl Iterator<Item = (&'a str, Option<&'a str>)>, name: &str) -> String {
    units
        .into_iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, c)| c)
        .unwrap_or_else(|| panic!("{name} is not provisioned"))
        .to_owned()
}

#[test]
fn ignition_validates_against_the_spec_schema_and_embeds_the_exact_files() {
    let text = fixture_text();
    for variant in [Variant::Flatcar, Variant::Fcos] {
        let doc: Json = serde_json::from_str(&print(Format::Ignition, variant, &text)).unwrap();
        let errors: Vec<String> = ignition_schema().iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(doc["ignition"]["version"], IGNITION_VERSION);
        let files = ignition_files(&doc);
        assert!(files.contains(&("/etc/bgctl/bdd_assistant.toml".into(), 0o600, text.clone())));
        let bgctl = if variant == Variant::Flatcar {
            "/opt/bin/bgctl"
        } else {
            "/usr/local/bin/bgctl"
        };
        assert!(files.contains(&(bgctl.into(), 0o755, EXAMPLE_URL.into())));
        let binary = doc["storage"]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == bgctl)
            .unwrap();
        assert_eq!(
            binary["contents"]["verification"]["hash"],
            format!("sha512-{EXAMPLE_SHA512}")
        );
        let units = doc["systemd"]["units"].as_array().unwrap();
        let named = || {
            units
                .iter()
                .map(|u| (u["name"].as_str().unwrap(), u["contents"].as_str()))
        };
        for (name, contents) in own_units(bgctl) {
            assert_eq!(unit_contents(named(), &name), contents, "{name}");
        }
        let enabled: BTreeSet<&str> = units
            .iter()
            .filter(|u| u["enabled"] == true)
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        for unit in [
            "docker.service",
            "nginx.service",
            "bgctl-install@bdd_assistant.service",
            "bgctl-reconcile@bdd_assistant.service",
        ] {
            assert!(enabled.contains(unit), "{unit} is not enabled: {enabled:?}");
        }
        let etcd = if variant == Variant::Flatcar {
            "etcd-member.service"
        } else {
            "etcd.service"
        };
        assert!(enabled.contains(etcd), "{etcd}");
    }
}

/// The schema allows unknown keys (no `additionalProperties`), so a
/// misspelt key would pass it: every key of `doc` must also be a property
/// the schema defines where it stands.
fn known_keys(doc: &Json, schema: &Json, root: &Json, at: &str) -> Result<(), String> {
    let schema = resolve(schema, root);
    match doc {
        Json::Object(map) => {
            let mut known = std::collections::BTreeMap::new();
            let mut shapes = vec![schema];
            shapes.extend(
                schema["allOf"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| resolve(s, root)),
            );
            for shape in &shapes {
                known.extend(shape["properties"].as_object().into_iter().flatten());
            }
            for (key, value) in map {
                let inner = known
                    .get(key)
                    .ok_or(format!("{at}.{key} is not in the Ignition schema"))?;
                known_keys(value, inner, root, &format!("{at}.{key}"))?;
            }
            Ok(())
        }
        Json::Array(items) => items.iter().try_for_each(|i| known_keys(i, &schema["items"], root, at)),
        _ => Ok(()),
    }
}

/// Follows `#/definitions/a/definitions/b` references.
fn resolve<'a>(schema: &'a Json, root: &'a Json) -> &'a Json {
    match schema["$ref"].as_str() {
        Some(pointer) => resolve(
            root.pointer(pointer.trim_start_matches('#')).expect("a local $ref"),
            root,
        ),
        None => schema,
    }
}

#[test]
fn every_ignition_key_is_one_the_spec_defines() {
    let path = root().join("tests/data/ignition/ignition-3.3.0.schema.json");
    let schema: Json = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for variant in [Variant::Flatcar, Variant::Fcos] {
        let doc: Json = serde_json::from_str(&print(Format::Ignition, variant, &fixture_text())).unwrap();
        assert_eq!(known_keys(&doc, &schema, &schema, ""), Ok(()));
    }
    let misspelt =
        serde_json::json!({"ignition": {"version": "3.3.0"}, "systemd": {"units": [{"name": "a", "dropin": []}]}});
    assert_eq!(
        known_keys(&misspelt, &schema, &schema, ""),
        Err(".systemd.units.dropin is not in the Ignition schema".into())
    );
}

#[test]
fn the_schema_check_is_not_a_formality() {
    let broken = serde_json::json!({"ignition": {"version": 3}, "storage": {"files": [{"mode": "0644"}]}});
    assert!(!ignition_schema().is_valid(&broken));
}

/// The keys coreos-cloudinit reads (its config/*.go); anything else it ignores silently.
const CLOUDINIT_KEYS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "ssh_authorized_keys",
            "coreos",
            "write_files",
            "hostname",
            "users",
            "manage_etc_hosts",
        ],
    ),
    (
        "coreos",
        &[
            "etcd",
            "etcd2",
            "flannel",
            "fleet",
            "locksmith",
            "oem",
            "update",
            "units",
        ],
    ),
    (
        "units",
        &["name", "mask", "enable", "runtime", "content", "command", "drop_ins"],
    ),
    ("drop_ins", &["name", "content"]),
    ("write_files", &["path", "content", "owner", "permissions", "encoding"]),
];

/// Every mapping key in `value`, checked against the keys allowed where it stands.
fn assert_cloudinit_keys(value: &Yaml, at: &str) {
    match value {
        Yaml::Mapping(map) => {
            let allowed = CLOUDINIT_KEYS.iter().find(|(k, _)| *k == at).map(|(_, keys)| *keys);
            for (key, inner) in map {
                let key = key.as_str().unwrap();
                let allowed = allowed.unwrap_or_else(|| panic!("a mapping under {at:?}"));
                assert!(allowed.contains(&key), "coreos-cloudinit does not know {at}.{key}");
                assert_cloudinit_keys(inner, key);
            }
        }
        Yaml::Sequence(items) => items.iter().for_each(|i| assert_cloudinit_keys(i, at)),
        _ => {}
    }
}

fn yaml_get<'a>(v: &'a Yaml, key: &str) -> &'a Yaml {
    v.get(key).unwrap_or_else(|| panic!("no {key} in {v:?}"))
}

#[test]
fn cloud_config_parses_with_only_cloudinit_keys_and_embeds_the_exact_files() {
    let text = fixture_text();
    let out = print(Format::CloudConfig, Variant::Flatcar, &text);
    assert!(out.starts_with("#cloud-config\n"));
    let doc: Yaml = serde_norway::from_str(&out).unwrap();
    assert_cloudinit_keys(&doc, "");
    let files = yaml_get(&doc, "write_files").as_sequence().unwrap();
    let config = files
        .iter()
        .find(|f| yaml_get(f, "path").as_str() == Some("/etc/bgctl/bdd_assistant.toml"))
        .unwrap();
    assert_eq!(yaml_get(config, "content").as_str(), Some(text.as_str()));
    assert_eq!(yaml_get(config, "permissions").as_str(), Some("0600"));
    let units = yaml_get(yaml_get(&doc, "coreos"), "units").as_sequence().unwrap();
    let named = || {
        units
            .iter()
            .map(|u| (u["name"].as_str().unwrap(), u.get("content").and_then(Yaml::as_str)))
    };
    for (name, contents) in own_units("/opt/bin/bgctl") {
        assert_eq!(unit_contents(named(), &name), contents, "{name}");
    }
    let fetch = unit_contents(named(), "bgctl-fetch.service");
    assert!(fetch.contains(&format!("\"{EXAMPLE_URL}\"")), "{fetch}");
    // The download is checked before it is put in place.
    let check = fetch
        .find("sha512sum --check --status \"/opt/bin/bgctl.sha512\"")
        .expect(&fetch);
    assert!(check < fetch.find("/usr/bin/mv").unwrap(), "{fetch}");
    let sums = files
        .iter()
        .find(|f| yaml_get(f, "path").as_str() == Some("/opt/bin/bgctl.sha512"))
        .unwrap();
    assert_eq!(
        yaml_get(sums, "content").as_str(),
        Some(format!("{EXAMPLE_SHA512}  /opt/bin/bgctl.part\n").as_str())
    );
}

#[test]
fn a_config_without_a_proxy_test_or_with_a_bad_unit_is_refused() {
    let text = fixture_text();
    let without = text.replace("test = [", "# test = [");
    let config = Config::parse(&without).unwrap();
    let err = provision(Format::Ignition, &config, &without, &options(Variant::Flatcar)).unwrap_err();
    assert!(matches!(err, ProvisionError::NoProxyTest { .. }), "{err}");
    let odd = text.replace("unit = \"nginx.service\"", "unit = \"nginx@x.service\"");
    let config = Config::parse(&odd).unwrap();
    let err = provision(Format::Butane, &config, &odd, &options(Variant::Flatcar)).unwrap_err();
    assert!(matches!(err, ProvisionError::ProxyUnit { .. }), "{err}");
    let err = provision(Format::CloudConfig, &config, &odd, &options(Variant::Fcos)).unwrap_err();
    assert!(matches!(err, ProvisionError::NoCloudConfigOnFcos), "{err}");
    let docker = text.replace("unit = \"nginx.service\"", "unit = \"docker.service\"");
    let config = Config::parse(&docker).unwrap();
    let err = provision(Format::Ignition, &config, &docker, &options(Variant::Flatcar)).unwrap_err();
    assert!(matches!(err, ProvisionError::ProxyUnit { .. }), "{err}");
}

/// The nginx container mounts the directories of nginx_conf and the site:
/// never `/` or `/etc`, and nginx.conf never lands on another file.
#[test]
fn shallow_or_odd_nginx_paths_are_refused() {
    let text = fixture_text();
    for (key, path) in [
        ("nginx_conf", "/nginx.conf"),
        ("nginx_conf", "/etc/nginx.conf"),
        ("nginx_conf", "/etc/ssh/sshd_config"),
        ("nginx_conf", "/etc/ng inx/nginx.conf"),
        ("site", "/etc/x.conf"),
        ("site", "/x.conf"),
    ] {
        let from = if key == "site" {
            "site = \"/etc/nginx/sites-enabled/bdd_assistant.conf\""
        } else {
            "nginx_conf = \"/etc/nginx/nginx.conf\""
        };
        let bad = text.replace(from, &format!("{key} = \"{path}\""));
        let config = Config::parse(&bad).unwrap();
        let err = provision(Format::Ignition, &config, &bad, &options(Variant::Flatcar)).unwrap_err();
        assert!(
            matches!(err, ProvisionError::IncludePath { .. }),
            "{key} = {path}: {err}"
        );
    }
}

#[test]
fn the_site_directory_inside_nginx_conf_s_is_mounted_once_and_made_first() {
    let doc: Json = serde_json::from_str(&print(Format::Ignition, Variant::Flatcar, &fixture_text())).unwrap();
    let units = doc["systemd"]["units"].as_array().unwrap();
    let nginx = units.iter().find(|u| u["name"] == "nginx.service").unwrap()["contents"]
        .as_str()
        .unwrap();
    assert_eq!(nginx.matches(" -v ").count(), 1, "{nginx}");
    assert!(nginx.contains("-v \"/etc/nginx:/etc/nginx:ro,z\""), "{nginx}");
    for dir in ["/etc/nginx", "/etc/nginx/sites-enabled"] {
        let mkdir = format!("ExecStartPre=/usr/bin/mkdir -p \"{dir}\"");
        assert!(nginx.contains(&mkdir), "{nginx}");
    }
}

#[test]
fn with_the_guard_on_nginx_writes_its_log_where_bgctl_reads_it() {
    let text = fixture_text().replace("window = \"0s\"", "window = \"30s\"");
    let doc: Json = serde_json::from_str(&print(Format::Ignition, Variant::Flatcar, &text)).unwrap();
    let units = doc["systemd"]["units"].as_array().unwrap();
    let nginx = units.iter().find(|u| u["name"] == "nginx.service").unwrap()["contents"]
        .as_str()
        .unwrap();
    assert!(nginx.contains("-v \"/var/log/nginx:/var/log/nginx:z\""), "{nginx}");
    assert!(
        nginx.contains("ExecStartPre=/usr/bin/mkdir -p \"/var/log/nginx\""),
        "{nginx}"
    );
}

/// The config file each format embeds, read back with a real parser.
fn embedded_config(format: Format, out: &str) -> String {
    let path = "/etc/bgctl/fuzz.toml";
    match format {
        Format::Ignition => {
            let doc: Json = serde_json::from_str(out).unwrap();
            ignition_files(&doc).into_iter().find(|(p, _, _)| p == path).unwrap().2
        }
        Format::CloudConfig | Format::Butane => {
            let doc: Yaml = serde_norway::from_str(out).unwrap();
            let (list, key) = match format {
                Format::CloudConfig => (yaml_get(&doc, "write_files"), "content"),
                _ => (yaml_get(yaml_get(&doc, "storage"), "files"), "contents"),
            };
            let file = list
                .as_sequence()
                .unwrap()
                .iter()
                .find(|f| f["path"].as_str() == Some(path))
                .unwrap();
            let value = yaml_get(file, key);
            let value = if format == Format::Butane {
                yaml_get(value, "inline")
            } else {
                value
            };
            value.as_str().unwrap().to_owned()
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(500),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Hostile text anywhere a config may hold it (env values, args, the
    /// proxy test's words, a comment) cannot break the YAML or the JSON:
    /// each parses, and carries the config back byte for byte.
    #[test]
    fn hostile_config_values_come_back_unchanged_in_every_format(
        value in nasty(),
        comment in nasty(),
        crlf: bool,
        indent in proptest::sample::select(vec!["", " ", "  ", "\t"]),
        final_newline: bool,
    ) {
        let comment = comment.replace(['\n', '\r'], " ");
        // Control characters: the config refuses them (exit 2) before provision runs.
        proptest::prop_assume!(!value.chars().any(char::is_control));
        proptest::prop_assume!(!comment.chars().any(|c| c.is_control() && c != '\t'));
        let v = toml_string(&value);
        let mut text = format!(
            "{indent}# {comment}\nname = \"fuzz\"\nimage = \"app:v1\"\n\n[container]\nenv = {{ V = {v} }}\nargs = [{v}]\n\n\
             [proxy]\ntest = [\"/usr/bin/docker\", \"exec\", \"nginx\", {v}]"
        );
        if final_newline {
            text.push('\n');
        }
        if crlf {
            text = text.replace('\n', "\r\n");
        }
        let config = Config::parse(&text).unwrap();
        for format in [Format::CloudConfig, Format::Ignition, Format::Butane] {
            let out = provision(format, &config, &text, &options(Variant::Flatcar)).unwrap();
            proptest::prop_assert_eq!(embedded_config(format, &out), text.clone());
        }
    }
}

#[test]
fn with_acme_the_host_renews_daily_and_nginx_reads_the_certificate_and_challenges() {
    let text = fixture_text()
        .replace("server_name = \"_\"", "server_name = \"shop.example.com\"")
        .replace("[proxy.tls]\nlisten = 0", "[proxy.tls]\nlisten = 443")
        .replace("acme = false", "acme = true")
        .replace(
            "acme_directory = \"\"",
            "acme_directory = \"https://acme.example.com/dir\"",
        );
    let doc: Json = serde_json::from_str(&print(Format::Ignition, Variant::Flatcar, &text)).unwrap();
    let units = doc["systemd"]["units"].as_array().unwrap();
    let named = |name: &str| units.iter().find(|u| u["name"] == name);
    assert!(
        named("bgctl-tls-renew@.service").is_some_and(|u| u["contents"].as_str().unwrap().contains(" -s %i tls renew"))
    );
    assert!(named("bgctl-tls-renew@.timer").is_some());
    assert_eq!(named("bgctl-tls-renew@bdd_assistant.timer").unwrap()["enabled"], true);
    let nginx = named("nginx.service").unwrap()["contents"].as_str().unwrap();
    assert!(
        nginx.contains("-v \"/var/lib/bgctl/acme/bdd_assistant:/var/lib/bgctl/acme/bdd_assistant:ro,z\""),
        "{nginx}"
    );
}

#[test]
fn etcds_password_goes_to_the_host_in_a_root_only_file_of_its_own() {
    let inline = fixture_text().replace("[state]\n", "[state]\nuser = \"deployer\"\npassword = \"s3cret\"\n");
    let config = Config::parse(&inline).unwrap();
    assert!(matches!(
        provision(Format::Ignition, &config, &inline, &options(Variant::Flatcar)),
        Err(ProvisionError::InlinePassword)
    ));
    let text = fixture_text().replace(
        "[state]\n",
        "[state]\nuser = \"deployer\"\npassword_file = \"/etc/bgctl/bdd_assistant.password\"\n",
    );
    let config = Config::parse(&text).unwrap();
    let with_password = Options {
        password: Some("s3cret\n".into()),
        ..options(Variant::Flatcar)
    };
    let doc: Json =
        serde_json::from_str(&provision(Format::Ignition, &config, &text, &with_password).unwrap()).unwrap();
    let files = ignition_files(&doc);
    assert!(
        files.contains(&("/etc/bgctl/bdd_assistant.password".into(), 0o600, "s3cret\n".into())),
        "{files:?}"
    );
    let (_, _, embedded) = files
        .iter()
        .find(|(p, _, _)| p == "/etc/bgctl/bdd_assistant.toml")
        .unwrap();
    assert!(!embedded.contains("s3cret"), "{embedded}");
}
