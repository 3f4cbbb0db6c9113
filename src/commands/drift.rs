//! Where the site, the state and the units disagree (`status`): pure, so
//! each kind of drift is tested without the world.

use crate::domain::Color;

/// What status read, reduced to what drift is judged on.
#[derive(Debug, Clone)]
pub struct Facts {
    pub site: String,
    pub site_exists: bool,
    /// The site is exactly what the state renders.
    pub site_matches: bool,
    /// The port the site on disk sends users to.
    pub site_port: Option<u16>,
    /// The live color and its port, by the state.
    pub live: Option<(Color, u16)>,
    /// The color `stage` left for `promote`, by the state.
    pub staged: Option<Color>,
    /// Who answers a request through nginx now.
    pub served_by: Option<Color>,
    pub listen: u16,
    /// Per color: whether its unit is up, and its ActiveState.
    pub units: [(Color, bool, String); 2],
}

/// Each disagreement as a line that says what to run.
pub fn drift(f: &Facts) -> Vec<String> {
    let mut found = Vec::new();
    if !f.site_exists {
        found.push(format!("the site {} is missing: run bgctl install", f.site));
    } else if !f.site_matches {
        found.push(format!(
            "the site {} is not what the state renders (edited by hand, or a deploy is running): bgctl reconcile rewrites it",
            f.site
        ));
    }
    match f.live {
        Some((color, port)) => {
            if f.site_exists && f.site_port != Some(port) {
                let routes = f.site_port.map_or("no color".to_owned(), |p| format!("port {p}"));
                found.push(format!(
                    "nginx's site sends users to {routes}, but the state says {color} on port {port}: run bgctl reconcile"
                ));
            }
            if f.served_by != Some(color) {
                let by = f.served_by.map_or("no color".to_owned(), |c| c.to_string());
                found.push(format!(
                    "requests through nginx on :{} are answered by {by}, not {color}: run bgctl reconcile",
                    f.listen
                ));
            }
            for (c, up, state) in &f.units {
                if *c == color && !up {
                    found.push(format!(
                        "{c} is live by the state but its unit is {state}: run bgctl reconcile"
                    ));
                } else if *c != color && *up && f.staged != Some(*c) {
                    found.push(format!(
                        "{c} runs too, though {color} is live (a deploy is running, or one was interrupted): bgctl reconcile stops it"
                    ));
                }
            }
        }
        None => {
            for (c, _, _) in f.units.iter().filter(|(c, up, _)| *up && f.staged != Some(*c)) {
                found.push(format!(
                    "{c} runs, but no color is live in the state: bgctl switch --to {c} makes it live"
                ));
            }
        }
    }
    for (c, up, state) in &f.units {
        if f.staged == Some(*c) && !up {
            found.push(format!(
                "{c} is staged by the state but its unit is {state}: bgctl discard (or reconcile) clears it"
            ));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agreeing() -> Facts {
        Facts {
            site: "/s.conf".into(),
            site_exists: true,
            site_matches: true,
            site_port: Some(9002),
            live: Some((Color::Green, 9002)),
            staged: None,
            served_by: Some(Color::Green),
            listen: 80,
            units: [
                (Color::Blue, false, "inactive".into()),
                (Color::Green, true, "active".into()),
            ],
        }
    }

    #[test]
    fn agreement_is_no_drift() {
        assert!(drift(&agreeing()).is_empty());
    }

    #[test]
    fn each_disagreement_is_named() {
        let mut hand_edited = agreeing();
        (hand_edited.site_matches, hand_edited.site_port) = (false, Some(9001));
        let lines = drift(&hand_edited);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].contains("not what the state renders") && lines[1].contains("port 9001"));

        let mut not_reloaded = agreeing();
        not_reloaded.served_by = Some(Color::Blue);
        assert_eq!(
            drift(&not_reloaded),
            ["requests through nginx on :80 are answered by blue, not green: run bgctl reconcile"]
        );

        let mut live_down = agreeing();
        live_down.units[1] = (Color::Green, false, "failed".into());
        assert!(drift(&live_down)[0].contains("its unit is failed"));

        let mut both = agreeing();
        both.units[0].1 = true;
        assert!(drift(&both)[0].contains("blue runs too"));

        let mut missing = agreeing();
        (missing.site_exists, missing.site_matches, missing.site_port) = (false, false, None);
        assert_eq!(drift(&missing), ["the site /s.conf is missing: run bgctl install"]);

        let mut stray = agreeing();
        (stray.live, stray.served_by) = (None, None);
        (stray.site_matches, stray.site_port) = (true, None);
        assert!(drift(&stray)[0].contains("green runs, but no color is live"));
    }

    #[test]
    fn a_staged_color_may_run_and_must_not_be_down() {
        let mut staged = agreeing();
        staged.units[0].1 = true;
        staged.staged = Some(Color::Blue);
        assert!(drift(&staged).is_empty(), "{:?}", drift(&staged));

        let mut first = staged.clone();
        (first.live, first.served_by, first.site_port) = (None, None, None);
        first.units[1].1 = false;
        assert!(drift(&first).is_empty(), "{:?}", drift(&first));

        let mut gone = staged;
        gone.units[0] = (Color::Blue, false, "failed".into());
        assert_eq!(
            drift(&gone),
            ["blue is staged by the state but its unit is failed: bgctl discard (or reconcile) clears it"]
        );
    }
}
