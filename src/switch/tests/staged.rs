//! The checks phase, the hooks and staged deploys against the fakes: what
//! runs, in which order, and what a failure leaves behind. The commands
//! are real processes (`/bin/sh`), run without a shell of bgctl's own.

use super::*;

/// `[hooks] <hook>` as a `/bin/sh -c` script.
fn hook(hook: &str, script: &str) -> String {
    format!("[hooks]\n{hook} = [\"/bin/sh\", \"-c\", {script:?}]\n")
}

fn check_failed(err: &SwitchError) -> &crate::checks::CheckFailure {
    match err {
        SwitchError::ChecksFailed { failure, .. } => failure,
        other => panic!("not a failed check: {other}"),
    }
}

/// After a deploy to green failed before its flip: green was stopped, blue
/// never was, nothing was flipped and no site changed.
fn assert_nothing_moved(fx: &Fixture, out: &Outcomes) {
    assert!(fx.log.has("stop t_green@9002.service"), "{:?}", fx.log.0.borrow());
    assert!(!fx.log.has("stop t_blue@9001.service"), "the live color was stopped");
    assert!(
        !fx.log
            .0
            .borrow()
            .iter()
            .any(|e| e.starts_with("flip") || e.starts_with("site"))
    );
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Blue));
    assert_eq!(out.state.revision.get(), 7);
    assert!(out.state.history.borrow()[0].result.starts_with("failed"));
}

#[tokio::test]
async fn a_body_check_that_fails_exits_3_and_users_never_see_the_new_color() {
    let fx = Fixture::with(
        "check-body",
        "[checks]\nhttp = [{ path = \"/\", contains = \"app v9\" }]\n",
    );
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    let err = out.result.as_ref().unwrap_err();
    assert!(
        check_failed(err).reason.contains("does not contain \"app v9\""),
        "{err}"
    );
    assert!(
        err.to_string().contains("t_green@9002.service failed its checks"),
        "{err}"
    );
    assert_nothing_moved(&fx, &out);
    assert_eq!(exit_code(out.result.unwrap_err()), ExitCode::Unhealthy);
}

#[tokio::test]
async fn a_check_command_that_exits_1_exits_3_with_its_output() {
    let fx = Fixture::with(
        "check-command",
        "[checks]\ncommand = [\"/bin/sh\", \"-c\", \"echo smoke: cart is empty; exit 1\"]\n",
    );
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    let err = out.result.as_ref().unwrap_err();
    assert_eq!(check_failed(err).output, ["smoke: cart is empty"]);
    assert!(
        err.to_string().contains("exit 1") && err.to_string().contains("smoke: cart is empty"),
        "{err}"
    );
    assert_nothing_moved(&fx, &out);
    let record = &out.state.history.borrow()[0];
    assert_eq!(
        (record.commands[0].hook.as_str(), record.commands[0].result.as_str()),
        ("check", "exit 1")
    );
    assert_eq!(exit_code(out.result.unwrap_err()), ExitCode::Unhealthy);
}

#[tokio::test]
async fn a_pre_flip_hook_that_fails_aborts_like_a_failed_check() {
    let fx = Fixture::with("pre-flip", &hook("pre_flip", "echo migration refused >&2; exit 1"));
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    let err = out.result.as_ref().unwrap_err();
    // The program, never its arguments (they may carry a token).
    assert_eq!(check_failed(err).check, "pre_flip `/bin/sh`", "{err}");
    assert!(!err.to_string().contains("exit 1;"), "the argv leaked: {err}");
    assert_eq!(check_failed(err).output, ["migration refused"]);
    assert_nothing_moved(&fx, &out);
    assert_eq!(exit_code(out.result.unwrap_err()), ExitCode::Unhealthy);
}

#[tokio::test]
async fn a_check_program_that_cannot_run_exits_1() {
    let fx = Fixture::with("check-missing", "[checks]\ncommand = [\"/nonexistent/smoke\"]\n");
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    assert!(check_failed(out.result.as_ref().unwrap_err()).cannot_run);
    assert_nothing_moved(&fx, &out);
    assert_eq!(exit_code(out.result.unwrap_err()), ExitCode::Failed);
}

#[tokio::test]
async fn checks_and_hooks_run_in_order_with_the_deploy_environment() {
    let log = std::env::temp_dir().join(format!("bgctl-hooks-order-{}", std::process::id()));
    let append = |name: &str| {
        format!(
            "echo {name} $BGCTL_COLOR $BGCTL_FROM $BGCTL_DEPLOY_ID >> {}",
            log.display()
        )
    };
    let extra = format!(
        "[checks]\ncommand = [\"/bin/sh\", \"-c\", {:?}]\n[hooks]\npre_flip = [\"/bin/sh\", \"-c\", {:?}]\n\
         post_switch = [\"/bin/sh\", \"-c\", {:?}]\n",
        append("check"),
        append("pre_flip"),
        append("post_switch")
    );
    let fx = Fixture::with("hooks-order", &extra);
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    let outcome = out.result.unwrap();
    let ran = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    assert_eq!(
        ran,
        "check green blue d1\npre_flip green blue d1\npost_switch green blue d1\n"
    );
    let hooks: Vec<&str> = outcome.commands.iter().map(|c| c.hook.as_str()).collect();
    assert_eq!(hooks, ["check", "pre_flip", "post_switch"]);
    assert_eq!(out.state.history.borrow()[0].commands.len(), 3);
}

#[tokio::test]
async fn a_failed_post_switch_hook_is_reported_and_undoes_nothing() {
    let fx = Fixture::with("post-switch", &hook("post_switch", "exit 4"));
    let out = run(&fx, Some(Color::Blue), NONE, None, None).await;
    assert_eq!(out.result.unwrap().to, Color::Green);
    assert!(fx.log.has("stop t_blue@9001.service"));
    assert_eq!(out.state.active.borrow().as_ref().map(|a| a.color), Some(Color::Green));
    let record = &out.state.history.borrow()[0];
    assert_eq!(record.result, "ok");
    assert_eq!(
        (record.commands[0].hook.as_str(), record.commands[0].result.as_str()),
        ("post_switch", "exit 4")
    );
}

/// Blue live and healthy, nginx on it; every container healthy but `sick`.
struct BlueLive<'a> {
    systemd: FakeSystemd<'a>,
    state: FakeState<'a>,
    proxy: FakeProxy<'a>,
    docker: FakeDocker,
}

fn blue_live(fx: &Fixture) -> BlueLive<'_> {
    let (systemd, state, proxy) = interrupted(fx, &[Color::Blue]);
    *proxy.site.borrow_mut() = Some(render::site(&fx.config, Some(Color::Blue)).unwrap().contents);
    proxy.loaded.set(Some(Color::Blue));
    BlueLive {
        systemd,
        state,
        proxy,
        docker: FakeDocker { sick: None },
    }
}

impl<'a> BlueLive<'a> {
    fn world(&mut self, config: &'a Config) -> World<'_, Fakes<'a>> {
        World {
            config,
            systemd: &self.systemd,
            docker: &self.docker,
            state: &mut self.state,
            proxy: &self.proxy,
            probe: &FakeProbe,
        }
    }

    fn staged(&self) -> Option<Color> {
        self.state.staged.borrow().as_ref().map(|s| s.color)
    }

    fn live(&self) -> Option<Color> {
        self.state.active.borrow().as_ref().map(|a| a.color)
    }

    fn runs(&self, fx: &Fixture, color: Color) -> bool {
        let unit = naming::instance_unit(&fx.config.name, color, fx.config.port(color));
        self.systemd.running.borrow().get(unit.as_str()) == Some(&true)
    }
}

fn verb(verb: &str) -> Request {
    Request {
        image: Some("app:v2".parse().unwrap()),
        holder: Holder::this_process(verb, "d", "t0"),
        interrupt: Interrupt::never(),
        ..request(None)
    }
}

async fn stage_green<'a>(fx: &'a Fixture, world: &mut BlueLive<'a>) -> Staged {
    let (staged, outcome) = stage(world.world(&fx.config), &verb("stage"), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!((outcome.from, outcome.to), (Some(Color::Blue), Color::Green));
    staged
}

#[tokio::test]
async fn stage_leaves_the_new_color_checked_on_the_preview_and_moves_no_user() {
    let fx = Fixture::with("stage", "preview_listen = 8081\n");
    let mut w = blue_live(&fx);
    let staged = stage_green(&fx, &mut w).await;
    assert_eq!((staged.color, staged.image.as_str()), (Color::Green, "app:v2"));
    assert_eq!(w.staged(), Some(Color::Green));
    assert_eq!(w.live(), Some(Color::Blue));
    assert!(w.runs(&fx, Color::Green) && w.runs(&fx, Color::Blue));
    assert!(fx.log.position("start t_green@9002.service") < fx.log.position("preview green"));
    assert!(fx.log.position("preview green") < fx.log.position("stage green"));
    assert!(
        !fx.log
            .0
            .borrow()
            .iter()
            .any(|e| e.starts_with("flip") || e.starts_with("site"))
    );
    assert!(
        !w.systemd.enabled.borrow().contains("t_green@9002.service"),
        "a staged color is enabled"
    );
    let record = &w.state.history.borrow()[0];
    assert_eq!((record.command.as_str(), record.result.as_str()), ("stage", "ok"));
    assert!(!record.made_live());
}

#[tokio::test]
async fn promote_makes_the_staged_color_live_and_stops_the_old_one() {
    let fx = Fixture::new("promote");
    let mut w = blue_live(&fx);
    stage_green(&fx, &mut w).await;
    fx.log.0.borrow_mut().clear();
    let outcome = promote(w.world(&fx.config), &verb("promote"), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!(
        (outcome.from, outcome.to, outcome.image.as_str()),
        (Some(Color::Blue), Color::Green, "app:v2")
    );
    assert!(
        !fx.log.0.borrow().iter().any(|e| e.starts_with("start")),
        "promote started something"
    );
    assert!(fx.log.position("flip green") < fx.log.position("stop t_blue@9001.service"));
    assert_eq!((w.live(), w.staged()), (Some(Color::Green), None));
    assert!(!w.runs(&fx, Color::Blue));
    assert!(w.state.history.borrow()[1].made_live());
}

#[tokio::test]
async fn a_deploy_while_something_is_staged_is_refused_and_starts_nothing() {
    let fx = Fixture::new("staged-in-the-way");
    let mut w = blue_live(&fx);
    stage_green(&fx, &mut w).await;
    fx.log.0.borrow_mut().clear();
    for request in [
        verb("switch"),
        verb("stage"),
        Request {
            goal: Goal::Previous,
            ..verb("rollback")
        },
    ] {
        let err = if request.holder.verb == "stage" {
            stage(w.world(&fx.config), &request, &mut Quiet::default())
                .await
                .unwrap_err()
        } else {
            switch(w.world(&fx.config), &request, &mut Quiet::default())
                .await
                .unwrap_err()
        };
        assert!(matches!(err, SwitchError::AlreadyStaged(_)), "{err}");
        assert!(err.to_string().contains("green is staged with app:v2"), "{err}");
        assert_eq!(exit_code(err), ExitCode::Failed);
    }
    assert!(
        !fx.log
            .0
            .borrow()
            .iter()
            .any(|e| e.starts_with("start") || e.starts_with("stop"))
    );
    assert_eq!(w.staged(), Some(Color::Green));
}

#[tokio::test]
async fn promote_with_nothing_staged_moves_nothing() {
    let fx = Fixture::new("promote-nothing");
    let mut w = blue_live(&fx);
    let err = promote(w.world(&fx.config), &verb("promote"), &mut Quiet::default())
        .await
        .unwrap_err();
    assert!(matches!(err, SwitchError::NothingStaged { dropped: None }), "{err}");
    assert_eq!(exit_code(err), ExitCode::Failed);
    assert!(!fx.log.0.borrow().iter().any(|e| e.starts_with("flip")));
    assert_eq!(w.live(), Some(Color::Blue));
}

#[tokio::test]
async fn a_staged_color_that_fell_sick_is_dropped_and_promote_moves_nothing() {
    let fx = Fixture::new("promote-sick");
    let mut w = blue_live(&fx);
    stage_green(&fx, &mut w).await;
    w.docker.sick = Some(naming::instance(&fx.config.name, Color::Green));
    let err = promote(w.world(&fx.config), &verb("promote"), &mut Quiet::default())
        .await
        .unwrap_err();
    assert!(matches!(err, SwitchError::NothingStaged { dropped: Some(_) }), "{err}");
    assert!(
        err.to_string()
            .contains("green was staged, but it is not healthy any more"),
        "{err}"
    );
    assert_eq!(exit_code(err), ExitCode::Failed);
    assert!(!fx.log.0.borrow().iter().any(|e| e.starts_with("flip")));
    assert_eq!((w.live(), w.staged()), (Some(Color::Blue), None));
    assert!(!w.runs(&fx, Color::Green) && w.runs(&fx, Color::Blue));
}

#[tokio::test]
async fn discard_clears_the_staged_color_then_stops_it() {
    let fx = Fixture::new("discard");
    let mut w = blue_live(&fx);
    stage_green(&fx, &mut w).await;
    let discarded = discard(w.world(&fx.config), &verb("discard"), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!(discarded.map(|s| s.color), Some(Color::Green));
    assert!(fx.log.position("unstage") < fx.log.position("stop t_green@9002.service"));
    assert_eq!((w.live(), w.staged()), (Some(Color::Blue), None));
    assert!(w.runs(&fx, Color::Blue) && !w.runs(&fx, Color::Green));
    let again = discard(w.world(&fx.config), &verb("discard"), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!(again, None, "nothing staged: nothing to do");
}

#[tokio::test]
async fn reconcile_keeps_a_healthy_staged_color_and_stops_a_sick_one() {
    let fx = Fixture::new("reconcile-staged");
    let mut w = blue_live(&fx);
    stage_green(&fx, &mut w).await;
    let actions = reconcile(w.world(&fx.config), &request(None), &mut Quiet::default())
        .await
        .unwrap();
    assert!(actions.is_empty(), "{actions:?}");
    assert!(w.runs(&fx, Color::Green) && w.staged() == Some(Color::Green));

    w.docker.sick = Some(naming::instance(&fx.config.name, Color::Green));
    let actions = reconcile(w.world(&fx.config), &request(None), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!(actions.len(), 1, "{actions:?}");
    assert!(
        actions[0].starts_with("stopped green and cleared it as staged"),
        "{actions:?}"
    );
    assert!(!w.runs(&fx, Color::Green) && w.staged().is_none());
}

#[tokio::test]
async fn a_first_deploy_can_be_staged_and_promoted() {
    let fx = Fixture::new("stage-first");
    let mut w = blue_live(&fx);
    w.systemd.running.borrow_mut().clear();
    *w.state.active.borrow_mut() = None;
    w.state.revision.set(0);
    *w.proxy.site.borrow_mut() = Some(render::site(&fx.config, None).unwrap().contents);
    w.proxy.loaded.set(None);
    let (staged, _) = stage(w.world(&fx.config), &verb("stage"), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!(staged.color, Color::Blue);
    let actions = reconcile(w.world(&fx.config), &request(None), &mut Quiet::default())
        .await
        .unwrap();
    assert!(
        actions.is_empty(),
        "reconcile stopped the staged first deploy: {actions:?}"
    );
    let outcome = promote(w.world(&fx.config), &verb("promote"), &mut Quiet::default())
        .await
        .unwrap();
    assert_eq!((outcome.from, outcome.to), (None, Color::Blue));
    assert_eq!((w.live(), w.staged()), (Some(Color::Blue), None));
}
