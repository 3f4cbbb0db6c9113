//! `bgctl provision` through the real binary: what it prints is checked by
//! systemd's own parser (`systemd-analyze verify`, in a scratch root that
//! has the programs the units run), and bad input exits 2. These need no
//! environment: provision touches nothing.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::{TempDir, bgctl, stderr, stdout};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/configs/bdd_assistant.toml")
}

fn provision(config: &Path, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--config", config.to_str().unwrap(), "provision"];
    all.extend_from_slice(args);
    bgctl(&all)
}

/// A root for `systemd-analyze verify --root`: systemd's own units, and
/// the programs the provisioned units run, at the paths they name.
fn scratch_root(tmp: &TempDir) -> PathBuf {
    let root = tmp.path().join("root");
    for dir in [
        "usr/lib/systemd",
        "usr/bin",
        "usr/local/bin",
        "opt/bin",
        "etc/systemd/system",
    ] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let copied = std::process::Command::new("cp")
        .args(["-a", "/lib/systemd/system"])
        .arg(root.join("usr/lib/systemd"))
        .status()
        .unwrap();
    assert!(copied.success());
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    // Flatcar's etcd-member.service, reduced to what its drop-in needs.
    std::fs::write(
        root.join("usr/lib/systemd/system/etcd-member.service"),
        "[Unit]\nDescription=stand-in for Flatcar's etcd-member\n\n[Service]\nType=notify\nExecStart=/usr/bin/docker run etcd\n",
    )
    .unwrap();
    std::os::unix::fs::symlink("usr/bin", root.join("bin")).unwrap();
    let bgctl = env!("CARGO_BIN_EXE_bgctl");
    for (from, to) in [
        (bgctl, "opt/bin/bgctl"),
        (bgctl, "usr/local/bin/bgctl"),
        (bgctl, "usr/bin/bgctl"),
        ("/usr/bin/docker", "usr/bin/docker"),
        ("/usr/bin/curl", "usr/bin/curl"),
        ("/usr/bin/chmod", "usr/bin/chmod"),
        ("/usr/bin/mv", "usr/bin/mv"),
        ("/usr/bin/mkdir", "usr/bin/mkdir"),
        ("/usr/bin/sha512sum", "usr/bin/sha512sum"),
    ] {
        std::fs::copy(from, root.join(to)).unwrap();
    }
    root
}

/// A provisioned unit: its name, its file (when provision writes one) and drop-ins.
type Unit = (String, Option<String>, Vec<(String, String)>);

/// Writes `units` into the root and verifies each one provision writes a
/// file or a drop-in for (a template through the service's instance);
/// systemd's warnings fail it too. Returns the units verified.
fn verify(root: &Path, units: &[Unit]) -> Vec<String> {
    let dir = root.join("etc/systemd/system");
    for (name, contents, dropins) in units {
        if let Some(contents) = contents {
            std::fs::write(dir.join(name), contents).unwrap();
        }
        for (file, text) in dropins {
            std::fs::create_dir_all(dir.join(format!("{name}.d"))).unwrap();
            std::fs::write(dir.join(format!("{name}.d/{file}")), text).unwrap();
        }
    }
    let template = |name: &str| match name.split_once('@') {
        Some((prefix, _)) => format!("{prefix}@.service"),
        None => name.to_owned(),
    };
    // A unit provision only enables (docker) is the system's own.
    let ours = |(name, contents, dropins): &&Unit| {
        let file = template(name);
        (contents.is_some() || !dropins.is_empty())
            && (dir.join(&file).exists() || root.join("usr/lib/systemd/system").join(&file).exists())
    };
    let mut names: Vec<String> = units
        .iter()
        .filter(ours)
        .map(|(name, _, _)| name.replace("@.", "@bdd_assistant."))
        .collect();
    names.sort();
    names.dedup();
    let o = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", root.display()))
        .args(&names)
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "systemd-analyze verify {names:?}:\n{}",
        stderr(&o)
    );
    names
}

/// The units of a document: Ignition spells them `contents`/`dropins`,
/// cloud-config `content`/`drop_ins`.
fn units(list: &Value, contents: &str, dropins: &str) -> Vec<Unit> {
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).map(str::to_owned);
    list.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let dropins = u[dropins].as_array().map_or_else(Vec::new, |d| {
                d.iter()
                    .map(|d| (text(d, "name").unwrap(), text(d, contents).unwrap()))
                    .collect()
            });
            (text(u, "name").unwrap(), text(u, contents), dropins)
        })
        .collect()
}

#[test]
fn every_provisioned_unit_passes_systemd_analyze_verify() {
    let tmp = TempDir::new("provision-verify");
    let root = scratch_root(&tmp);
    let url = "https://example.com/bgctl";
    let sha = "0".repeat(128);
    let o = provision(
        &fixture(),
        &["cloud-config", "--binary-url", url, "--binary-sha512", &sha],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_norway::from_str(&stdout(&o)).unwrap();
    let checked = verify(&root, &units(&doc["coreos"]["units"], "content", "drop_ins"));
    for unit in [
        "bgctl-fetch.service",
        "nginx.service",
        "bgctl-install@bdd_assistant.service",
        "bgctl-reconcile@bdd_assistant.service",
    ] {
        assert!(
            checked.iter().any(|c| c == unit),
            "{unit} was not verified: {checked:?}"
        );
    }
    for variant in ["flatcar", "fcos"] {
        let o = provision(&fixture(), &["ignition", "--variant", variant]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
        let units = units(&doc["systemd"]["units"], "contents", "dropins");
        let checked = verify(&root, &units);
        // Only docker is left: provision just enables it.
        let unchecked: Vec<&str> = units
            .iter()
            .map(|u| u.0.as_str())
            .filter(|n| !checked.iter().any(|c| c == &n.replace("@.", "@bdd_assistant.")))
            .collect();
        assert_eq!(unchecked, ["docker.service"]);
    }
}

/// `systemd-analyze security` of the reconcile unit, printed for the record
/// and held to the "OK" band it reaches now.
#[test]
fn the_reconcile_unit_is_hardened() {
    let tmp = TempDir::new("provision-security");
    let root = scratch_root(&tmp);
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/systemd/bgctl-reconcile@.service"),
    )
    .unwrap();
    let dir = root.join("etc/systemd/system");
    std::fs::write(dir.join("bgctl-reconcile@.service"), unit).unwrap();
    let o = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(format!("--root={}", root.display()))
        .arg("bgctl-reconcile@bdd_assistant.service")
        .current_dir(&dir)
        .output()
        .unwrap();
    let out = stdout(&o);
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score: {out}{}", stderr(&o)));
    eprintln!("{line}");
    let score: f64 = line
        .split(':')
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(score <= 3.0, "{line}");
}

/// The check file cloud-config writes is sha512sum's own format: it passes
/// for the file it names and fails for any other.
#[test]
fn the_downloaded_binary_is_checked_with_sha512sum() {
    let tmp = TempDir::new("provision-sha");
    let sha = |path: &Path| {
        let o = std::process::Command::new("sha512sum").arg(path).output().unwrap();
        stdout(&o).split_whitespace().next().unwrap().to_owned()
    };
    let bgctl = Path::new(env!("CARGO_BIN_EXE_bgctl"));
    let o = provision(
        &fixture(),
        &[
            "cloud-config",
            "--binary-url",
            "https://a/b",
            "--binary-sha512",
            &sha(bgctl),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_norway::from_str(&stdout(&o)).unwrap();
    let files = doc["write_files"].as_array().unwrap();
    let sums = files.iter().find(|f| f["path"] == "/opt/bin/bgctl.sha512").unwrap()["content"]
        .as_str()
        .unwrap();
    for (file, passes) in [(bgctl, true), (Path::new("/usr/bin/sha512sum"), false)] {
        let part = tmp.path().join("bgctl.part");
        std::fs::copy(file, &part).unwrap();
        let check = tmp.path().join("bgctl.sha512");
        std::fs::write(&check, sums.replace("/opt/bin/bgctl.part", part.to_str().unwrap())).unwrap();
        let o = std::process::Command::new("sha512sum")
            .args(["--check", "--status"])
            .arg(&check)
            .output()
            .unwrap();
        assert_eq!(o.status.success(), passes, "{}: {sums}", file.display());
    }
}

#[test]
fn bad_input_exits_2_and_says_what_to_do() {
    let tmp = TempDir::new("provision-bad");
    let text = std::fs::read_to_string(fixture()).unwrap();
    let without_test = tmp.path().join("no-test.toml");
    std::fs::write(&without_test, text.replace("test = [", "# test = [")).unwrap();
    let o = provision(&without_test, &["ignition"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("test = [\"/usr/bin/docker\", \"exec\", \"nginx\""),
        "{}",
        stderr(&o)
    );
    assert!(o.stdout.is_empty());

    for bad in [
        "https://a/x\ny",
        "https://a/\"; rm -rf /",
        "file:///etc/shadow",
        "https://a b/",
    ] {
        let o = provision(&fixture(), &["cloud-config", "--binary-url", bad]);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let sha = "0".repeat(128);
    for args in [
        &["ignition", "--binary-sha512", &sha][..],
        &["ignition", "--binary-url", "https://a/b", "--binary-sha512", "ABC"],
    ] {
        let o = provision(&fixture(), args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
    let o = provision(&fixture(), &["cloud-config", "--variant", "fcos"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("ignition or butane"), "{}", stderr(&o));
    let o = provision(&fixture(), &["ignition", "--nginx-image", "nginx:1\n"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
