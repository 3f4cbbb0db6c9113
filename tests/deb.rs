//! The .deb (`scripts/build-deb`, cargo-deb metadata in Cargo.toml), built
//! from this test build's binaries, read back with dpkg-deb and unpacked
//! into a scratch root: every file where Debian expects it, the example a
//! conffile, the dependencies declared, and no maintainer scripts.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{TempDir, stderr, stdout};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the package from what `cargo test` already built (no second build).
fn build_deb() -> PathBuf {
    let o = Command::new(root().join("scripts/build-deb"))
        .args(["--profile", "dev", "--no-build", "--fast"])
        .output()
        .unwrap();
    assert!(o.status.success(), "build-deb: {}{}", stdout(&o), stderr(&o));
    let deb = root()
        .join("target/debian")
        .join(format!("bgctl_{}-1_amd64.deb", env!("CARGO_PKG_VERSION")));
    assert!(deb.exists(), "{} missing: {}", deb.display(), stdout(&o));
    deb
}

/// `dpkg-deb ARGS DEB [DEST]`: its output.
fn dpkg_deb(args: &[&str], deb: &Path, dest: Option<&Path>) -> String {
    let o = Command::new("dpkg-deb")
        .args(args)
        .arg(deb)
        .args(dest)
        .output()
        .unwrap();
    assert!(o.status.success(), "dpkg-deb {args:?}: {}", stderr(&o));
    stdout(&o)
}

const FILES: &[&str] = &[
    "./usr/bin/bgctl",
    "./usr/share/man/man1/bgctl.1.gz",
    "./usr/share/man/man1/bgctl-switch.1.gz",
    "./usr/share/man/man1/bgctl-provision.1.gz",
    "./usr/share/man/man1/bgctl-reconcile.1.gz",
    "./usr/share/bash-completion/completions/bgctl",
    "./usr/share/zsh/vendor-completions/_bgctl",
    "./usr/share/fish/vendor_completions.d/bgctl.fish",
    "./lib/systemd/system/bgctl-install@.service",
    "./lib/systemd/system/bgctl-reconcile@.service",
    "./lib/systemd/system/bgctl-proxy@.service",
    "./etc/bgctl/example.toml.sample",
    "./usr/share/doc/bgctl/copyright",
];

#[test]
fn the_deb_holds_the_binary_docs_units_and_example_and_runs_no_scripts() {
    let deb = build_deb();
    let info = dpkg_deb(&["-I"], &deb, None);
    eprintln!("{info}");
    for line in [
        "Package: bgctl",
        "Recommends: nginx | nginx-light",
        "Suggests: etcd-client, etcd-server",
    ] {
        assert!(info.contains(line), "{line} missing from:\n{info}");
    }
    let depends = info.lines().find(|l| l.trim().starts_with("Depends:")).unwrap();
    assert!(
        depends.contains("docker.io | docker-ce") && depends.contains("libc6"),
        "{depends}"
    );
    for script in ["preinst", "postinst", "prerm", "postrm", "config", "triggers"] {
        assert!(
            !info.contains(&format!(" {script} ")),
            "a maintainer script {script}:\n{info}"
        );
    }

    let listing = dpkg_deb(&["-c"], &deb, None);
    eprintln!("{listing}");
    let paths: Vec<&str> = listing.lines().filter_map(|l| l.split_whitespace().nth(5)).collect();
    for file in FILES {
        assert!(paths.contains(file), "{file} is not in the package");
    }
    let ours = |p: &&str| ["./usr/", "./lib/", "./etc/bgctl/"].iter().any(|d| p.starts_with(d)) || *p == "./etc/";
    assert!(
        paths.iter().all(ours),
        "a file outside /usr, /lib and /etc/bgctl: {paths:?}"
    );

    let tmp = TempDir::new("deb");
    let control = tmp.path().join("control");
    dpkg_deb(&["-e"], &deb, Some(&control));
    assert_eq!(
        std::fs::read_to_string(control.join("conffiles")).unwrap(),
        "/etc/bgctl/example.toml.sample\n"
    );

    // Unpacked into a scratch root: the binary runs, the units are the
    // shipped ones, and the example is a config bgctl accepts.
    let scratch = tmp.path().join("root");
    dpkg_deb(&["-x"], &deb, Some(&scratch));
    let bgctl = scratch.join("usr/bin/bgctl");
    let o = Command::new(&bgctl).arg("--version").output().unwrap();
    assert_eq!(stdout(&o).trim(), format!("bgctl {}", env!("CARGO_PKG_VERSION")));
    for unit in [
        "bgctl-install@.service",
        "bgctl-reconcile@.service",
        "bgctl-proxy@.service",
    ] {
        let shipped = std::fs::read_to_string(scratch.join("lib/systemd/system").join(unit)).unwrap();
        let committed = std::fs::read_to_string(root().join("packaging/systemd").join(unit)).unwrap();
        assert_eq!(shipped, committed, "{unit}");
        assert!(shipped.contains("ExecStart=\"/usr/bin/bgctl\" -s %i "), "{shipped}");
    }
    let example = scratch.join("etc/bgctl/example.toml.sample");
    let o = Command::new(&bgctl)
        .args(["--config", example.to_str().unwrap(), "render"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "the example config: {}", stderr(&o));
}
