//! The command line (DESIGN §5). Only implemented commands are registered.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::ConfigSource;
use crate::domain::{Color, DeployId, HttpUrl, ImageRef, ServiceName, Sha512};
use crate::terminal::Verbosity;

#[derive(Debug, Parser)]
#[command(
    name = "bgctl",
    version,
    about = "Zero-downtime blue-green deploys of a Docker container on a systemd host",
    long_about = "bgctl generates blue/green systemd template units for a Docker container, \
drives systemd over D-Bus, gates traffic on container health, records the live color \
in etcd and switches nginx to it.\n\n\
The service's config is --config FILE, else /etc/bgctl/NAME.toml for -s NAME, \
else $BGCTL_CONFIG, else the only *.toml in /etc/bgctl.\n\n\
Exit codes: 0 ok, 1 failed (nothing changed or rolled back; a start job that failed, a container \
docker could not run), 2 usage or config error, 3 new color never healthy, 4 another deploy holds \
the lock, 5 systemd, dockerd or etcd unreachable."
)]
pub struct Cli {
    /// The service's config file [default: $BGCTL_CONFIG, unless -s is given]
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "service")]
    pub config: Option<PathBuf>,

    /// Use /etc/bgctl/NAME.toml
    #[arg(short = 's', long = "service", global = true, value_name = "NAME")]
    pub service: Option<ServiceName>,

    /// Print the result as JSON on stdout (switch, rollback, reconcile, status, history, doctor); a failure as {"error": …}
    #[arg(long, global = true)]
    pub json: bool,

    /// Only errors on stderr
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Also each step at the boundaries: D-Bus jobs, etcd transactions, reloads
    #[arg(short, long, global = true)]
    pub verbose: bool,

    #[command(subcommand)]
    pub command: Command,
}

/// `bgctl tls …`.
#[derive(Debug, clap::Subcommand)]
pub enum TlsCommand {
    /// Obtain or renew the ACME certificate when fewer than 30 days are left
    #[command(
        long_about = "With [proxy.tls] acme = true: when the certificate nginx serves has fewer than 30 \
days left (or is the self-signed stand-in install made), order a new one from acme_directory, \
answer its HTTP-01 challenges through nginx's plain port (/.well-known/acme-challenge/, served \
from <acme_dir>/<name>/challenges), then put the new key (0600) and chain in place, test them \
with nginx -t and reload nginx over D-Bus. A failed order or challenge leaves the serving \
certificate alone (exit 1). Idempotent: a certificate that is not due is kept (exit 0). \
bgctl-tls-renew@NAME.timer runs it daily."
    )]
    Renew {
        /// Renew even when the certificate is not due
        #[arg(long)]
        force: bool,
    },
}

/// `bgctl proxy …`.
#[derive(Debug, clap::Subcommand)]
pub enum ProxyCommand {
    /// Render the site from the state store, test it, and reload nginx if it changed
    #[command(
        long_about = "What confd did in the classic recipe, for a proxy host: read the live \
color and its stored url (<host>:<port>, which may be another host) from the state store, render \
the site that sends users there, and, only when it differs from the file on disk, test it \
([proxy] test), swap it in atomically and reload [proxy] unit. A url that is not <host>:<port> \
is refused (exit 1) and the site on disk stays. It takes no deploy lock: it only follows what a \
switch wrote. With --watch it runs for ever as a Type=notify service (bgctl-proxy@.service): \
again on every change under the service's etcd prefix (the watch resumes from the last revision \
it saw, so a broken connection or a compaction misses nothing; bursts are read once) and every \
--recheck, so a hand-edited site is put back. A failed render or test keeps the last good site \
and says so in the journal and in the unit's status."
    )]
    Sync {
        /// Follow the state store for ever (READY=1, STATUS=, WATCHDOG=1 to systemd)
        #[arg(long)]
        watch: bool,
        /// With --watch: a full sync at least this often, whatever etcd says
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = crate::domain::HumanDuration::parse)]
        recheck: crate::domain::HumanDuration,
    },
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the units, image drop-ins and nginx site, then daemon-reload (idempotent)
    #[command(long_about = "Write both color template units and their image drop-ins, atomically \
and only where they changed, then reload systemd once over D-Bus; then the nginx site, rendered \
from the stored state (the live color, or the 503 page before a first deploy), tested with nginx -t \
and loaded with a reload, under the deploy lock. A second run writes nothing and says so. \
The units follow the config; drop-ins are only created when missing, since deploys own them. \
Exits 1 when nginx -t refuses the site (the old one stays), 2 when unit_dir (or the site's \
directory) is not a directory, 4 while a deploy runs, 5 when systemd or the state store cannot be reached.")]
    Install {
        /// Show what would change, as a diff, and touch nothing
        #[arg(long)]
        dry_run: bool,
    },

    /// Stop both colors, disable them, remove what install wrote, daemon-reload
    #[command(long_about = "Under the deploy lock (a running deploy: exit 4, nothing touched), \
stop every instance of both colors (waiting for each stop job), \
disable them, remove the units, drop-ins and the site that install wrote, and reload systemd \
(and nginx, when it is running, so it forgets the site). The state store is left as it is: \
it holds the deploy history.")]
    Uninstall,

    /// Deploy to the other color: start, healthy, checks, flip etcd and nginx, stop the old
    #[command(
        long_about = "Deploy to the other color (or --to), with --image or the config's image. \
Phases, each printed with its time: lock (etcd lock on a lease; another deploy holding it \
exits 4 at once, or waits with --wait), read, converge (heal what an interrupted deploy left), \
start (the unit, job tracked), healthy (HTTP probe, \
and Docker's HEALTHCHECK when the image has one), checks ([checks] against the new color's own \
port, then [hooks] pre_flip), flip (one etcd transaction, compare-and-swap), \
proxy (site rendered, nginx -t, atomic swap, reload over D-Bus), verify (requests through nginx \
answer from the new color), guard ([guard]: users' real requests counted for its window while the \
old color is nginx's fallback; too many 5xx roll back), drain (the settled site, then until no \
connection to the old color and no old nginx worker is left, at most [proxy] drain), stop \
(the old color; only the new one stays enabled). \
Then [hooks] post_switch; its failure is reported and undoes nothing. \
A failure before the flip stops the new color and changes nothing (exit 3 if its app never became \
healthy or failed a check; 1 if the start job failed or docker could not run it); after the flip the flip and the \
site are rolled back (exit 1)."
    )]
    Switch(Deploy),

    /// Start the other color and run its checks; leave it on the preview, not live
    #[command(
        long_about = "The first half of a switch: lock, read, converge, start, healthy and checks \
([checks] and [hooks] pre_flip) for the other color (or --to), with --image or the config's image. \
The new color is left running, never enabled and never sent user traffic; with [proxy] \
preview_listen, requests to that port reach it (X-Bgctl-Color tells), so people and test suites \
can try it. The state records it under `staged`; `bgctl promote` makes it live, `bgctl discard` \
stops it, and any other deploy is refused (exit 1) until one of them ran. \
Exits as switch does before its flip: 3 when it never became healthy or failed a check, 1 when \
it could not start, 4 while another deploy holds the lock."
    )]
    Stage(Deploy),

    /// Move user traffic to the staged color, with the switch's guarantees
    #[command(
        long_about = "The second half of a switch, for the color `bgctl stage` left: lock, read, \
converge, then flip, proxy, verify, guard, drain and stop, and [hooks] post_switch. The staged color must \
still be healthy: when nothing is staged, or it is not healthy any more, nothing moves (exit 1). \
A failure after the flip rolls back as switch does (exit 1)."
    )]
    Promote {
        /// Wait for another deploy's lock instead of failing with exit 4
        #[arg(long)]
        wait: bool,
    },

    /// Stop the staged color; users never saw it
    #[command(
        long_about = "Under the deploy lock: clear the state's `staged`, then stop the staged \
color once no connection to it is left (the preview's requests finish). With nothing staged it \
does nothing and says so (exit 0)."
    )]
    Discard {
        /// Wait for another deploy's lock instead of failing with exit 4
        #[arg(long)]
        wait: bool,
    },

    /// Switch back to the previous color with the image it ran
    #[command(
        long_about = "Switch back to the previous color (the state's `previous`) with the image \
it last ran (the newest good deploy to it), with the same phases and guarantees as switch; \
both are read after the lock is taken, so a rollback queued behind a switch goes back from what \
that switch made live. Exits 2 when there is no previous deploy to go back to."
    )]
    Rollback {
        /// Wait for another deploy's lock instead of failing with exit 4
        #[arg(long)]
        wait: bool,
    },

    /// Make units, proxy and enablement match the stored state
    #[command(
        long_about = "Make the world match the stored state, under the deploy lock (waiting up \
to 30 s for it: a dead holder's lease expires in about 15 s): start the live color if it is down \
and wait until healthy, point nginx at it when requests through nginx do not reach it, enable \
only it, and stop the other color once the live one is healthy. switch runs the same first, \
so an interrupted switch is healed by the next command."
    )]
    Reconcile,

    /// The proxy side alone: nginx's site from the state store (confd's job)
    #[command(subcommand)]
    Proxy(ProxyCommand),

    /// HTTPS certificates obtained over ACME ([proxy.tls] acme = true)
    #[command(subcommand)]
    Tls(TlsCommand),

    /// Show what is live, each color's unit and container, and any drift
    #[command(
        long_about = "Show the live color (port, image and its digest, since, the deploy that made \
it live) from the state store; per color the unit's ActiveState/SubState and restarts, and the \
container's status and health; the port nginx's site sends users to, and each way the site, the \
state and the units disagree (drift), with the command that fixes it; and the state's backend, \
endpoint and revision. Everything is read concurrently over D-Bus, the Engine API and etcd. \
With --json, one stable object (DESIGN §5, fields in the README); `active` is null before the \
first deploy."
    )]
    Status,

    /// Print what `install` would write (units, image drop-ins, nginx site); touches nothing
    #[command(long_about = "Print what `install` would write: both color template units, \
their image drop-ins and the nginx site, each under a `# ==> PATH <==` header. \
With --out DIR, write them under DIR at their install paths instead \
(DIR/etc/systemd/system/..., as a DESTDIR), and touch nothing else. \
The config is validated first: a bad config writes nothing and exits 2.")]
    Render {
        /// Write the files under DIR (as a DESTDIR) instead of printing them
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },

    /// Show a color's journal (the app's own output), or one deploy's records
    #[command(long_about = "Show the journal of a color's unit, as `journalctl -u <unit>` does \
(journalctl is run for it): the app's own output. Without COLOR, the live color's. With --deploy ID, \
bgctl's own records of that deploy instead (`journalctl BGCTL_DEPLOY_ID=ID`): its phases, with \
their durations, and how it ended. Run it where the journal is (on the host, as root or in the \
systemd-journal group).")]
    Logs {
        /// blue or green [default: the live color]
        #[arg(value_name = "COLOR", conflicts_with = "deploy")]
        color: Option<Color>,
        /// Keep following new lines (journalctl -f)
        #[arg(short, long)]
        follow: bool,
        /// How many lines, newest last [default: 50 of a color's journal; all of a deploy's]
        #[arg(short = 'n', long, value_name = "N")]
        lines: Option<usize>,
        /// bgctl's own records of the deploy with this id (from switch, status or history)
        #[arg(long, value_name = "ID")]
        deploy: Option<DeployId>,
    },

    /// List past deploys from the state store, newest first
    #[command(long_about = "List past deploys from the state store (the newest 50 are kept), \
newest first: id, start time, from and to color, image, result, duration and each phase's time. \
With --json, an array of those records.")]
    History {
        /// How many deploys
        #[arg(short = 'n', long, value_name = "N", default_value_t = DEFAULT_HISTORY)]
        lines: usize,
    },

    /// Check that everything bgctl needs is there and answers; each failure with its fix
    #[command(long_about = "Check the system bus and systemd, dockerd and its API version, the \
state store (etcd health, auth and TLS, or the state file), the nginx binary and `nginx -t`, \
whether the units are installed and current (would `install` change anything?), the ports, \
and the journal socket. One ✓ or ✗ line per check, each ✗ with what to do. Exits 0 only \
when all pass, else 1.")]
    Doctor,

    /// Print what a CoreOS/Flatcar/Fedora CoreOS host needs at first boot for this service
    #[command(long_about = "Print, on stdout, what a new CoreOS, Flatcar or Fedora CoreOS host \
needs at first boot to run this service: the config at /etc/bgctl/NAME.toml (exactly this file), \
the bgctl binary (downloaded from --binary-url, or put in place by the image builder), docker, a \
local etcd when [state] endpoints point at this host (Flatcar's etcd-member, or a container on \
Fedora CoreOS), nginx as a container named after [proxy] unit, and bgctl-install@NAME and \
bgctl-reconcile@NAME enabled. Those systems ship no nginx, so the config must set [proxy] test \
to test the site inside the container (exit 2 says the line to add). Touches nothing.")]
    Provision {
        /// cloud-config (coreos-cloudinit), ignition (JSON, spec 3.3.0) or butane
        #[arg(value_enum, value_name = "FORMAT")]
        format: crate::provision::Format,
        /// The host's system: flatcar (also CoreOS) or fcos
        #[arg(long, value_enum, default_value = "flatcar")]
        variant: crate::provision::Variant,
        /// Where the host downloads the bgctl binary at first boot [default: the image has it]
        #[arg(long, value_name = "URL")]
        binary_url: Option<HttpUrl>,
        /// The binary's SHA-512 (sha512sum's hex): the host refuses a download that differs
        #[arg(long, value_name = "HEX", requires = "binary_url")]
        binary_sha512: Option<Sha512>,
        /// The nginx image the proxy container runs
        #[arg(long, value_name = "REF", default_value = crate::provision::DEFAULT_NGINX_IMAGE)]
        nginx_image: ImageRef,
        /// The etcd image (fcos only: Flatcar has etcd-member)
        #[arg(long, value_name = "REF", default_value = crate::provision::DEFAULT_ETCD_IMAGE)]
        etcd_image: ImageRef,
    },

    /// Print shell completions (bash, zsh, fish, elvish, powershell) on stdout
    #[command(long_about = "Print completions for SHELL on stdout, built from the same \
definitions as the help, e.g. `bgctl completions bash > /etc/bash_completion.d/bgctl`. The man \
pages come from them too: `cargo run --bin bgctl-man -- DIR`.")]
    Completions {
        #[arg(value_name = "SHELL")]
        shell: clap_complete::Shell,
    },
}

/// What `switch` and `stage` are asked: the color, the image, and whether
/// to queue for the lock.
#[derive(Debug, clap::Args)]
pub struct Deploy {
    /// The color to deploy to [default: the one that is not live; blue on the first deploy]
    #[arg(long, value_name = "COLOR")]
    pub to: Option<Color>,
    /// The image to deploy [default: the config's image]
    #[arg(long, value_name = "REF")]
    pub image: Option<ImageRef>,
    /// Wait for another deploy's lock instead of failing with exit 4
    #[arg(long)]
    pub wait: bool,
}

impl Deploy {
    /// `--to`, or the color that is not live.
    pub fn goal(&self) -> crate::switch::Goal {
        self.to.map_or(crate::switch::Goal::Other, crate::switch::Goal::To)
    }
}

impl Command {
    /// The command's name, as typed (`BGCTL_COMMAND` in the journal).
    pub fn name(&self) -> &'static str {
        match self {
            Command::Install { .. } => "install",
            Command::Uninstall => "uninstall",
            Command::Switch(_) => "switch",
            Command::Rollback { .. } => "rollback",
            Command::Stage(_) => "stage",
            Command::Promote { .. } => "promote",
            Command::Discard { .. } => "discard",
            Command::Reconcile => "reconcile",
            Command::Proxy(ProxyCommand::Sync { .. }) => "proxy sync",
            Command::Tls(TlsCommand::Renew { .. }) => "tls renew",
            Command::Status => "status",
            Command::Render { .. } => "render",
            Command::Logs { .. } => "logs",
            Command::History { .. } => "history",
            Command::Doctor => "doctor",
            Command::Provision { .. } => "provision",
            Command::Completions { .. } => "completions",
        }
    }
}

/// `logs -n` without a value.
pub const DEFAULT_LOG_LINES: usize = 50;
/// `history -n` without a value.
pub const DEFAULT_HISTORY: usize = 20;

impl Cli {
    pub fn verbosity(&self) -> Verbosity {
        match (self.quiet, self.verbose) {
            (true, _) => Verbosity::Quiet,
            (false, true) => Verbosity::Verbose,
            (false, false) => Verbosity::Normal,
        }
    }

    /// `--config`, then `-s`, then `$BGCTL_CONFIG` (given as `env`), then
    /// the only file: what is said on the command line wins over the
    /// environment.
    pub fn config_source(&self, env: Option<PathBuf>) -> ConfigSource {
        match (&self.config, &self.service, env) {
            (Some(path), _, _) => ConfigSource::File(path.clone()),
            (None, Some(name), _) => ConfigSource::Service(name.clone()),
            (None, None, Some(path)) => ConfigSource::File(path),
            (None, None, None) => ConfigSource::Only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(args: &[&str], env: Option<&str>) -> ConfigSource {
        let cli = Cli::try_parse_from([&["bgctl"], args, &["render"]].concat()).unwrap();
        cli.config_source(env.map(PathBuf::from))
    }

    #[test]
    fn the_command_line_wins_over_bgctl_config() {
        let web = ConfigSource::Service("web".parse().unwrap());
        assert_eq!(source(&["-s", "web"], Some("/env.toml")), web);
        assert_eq!(
            source(&["--config", "/a.toml"], Some("/env.toml")),
            ConfigSource::File("/a.toml".into())
        );
        assert_eq!(source(&[], Some("/env.toml")), ConfigSource::File("/env.toml".into()));
        assert_eq!(source(&[], None), ConfigSource::Only);
        assert!(Cli::try_parse_from(["bgctl", "--config", "/a", "-s", "web", "render"]).is_err());
    }
}
