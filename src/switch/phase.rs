//! The phases of a switch (DESIGN §4), in order. `reconcile` runs the
//! first three.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    Lock,
    Read,
    /// Heal what an interrupted deploy left (a no-op normally).
    Converge,
    Start,
    Healthy,
    /// `[checks]`, then `[hooks] pre_flip`.
    Checks,
    Flip,
    Proxy,
    Verify,
    /// `[guard]`: the new color's real traffic, watched (a no-op when off).
    Guard,
    Drain,
    Stop,
}

impl Phase {
    pub const ALL: [Phase; 12] = [
        Phase::Lock,
        Phase::Read,
        Phase::Converge,
        Phase::Start,
        Phase::Healthy,
        Phase::Checks,
        Phase::Flip,
        Phase::Proxy,
        Phase::Verify,
        Phase::Guard,
        Phase::Drain,
        Phase::Stop,
    ];
}

crate::string_enum!(Phase, "phase", {
    Lock => "lock", Read => "read", Converge => "converge", Start => "start", Healthy => "healthy", Checks => "checks",
    Flip => "flip",
    Proxy => "proxy", Verify => "verify", Guard => "guard", Drain => "drain", Stop => "stop",
});

#[cfg(test)]
mod tests {
    use super::Phase;

    #[test]
    fn phases_round_trip_and_keep_the_designed_order() {
        for p in Phase::ALL {
            assert_eq!(p.to_string().parse::<Phase>(), Ok(p));
        }
        let names: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
        assert_eq!(
            names,
            [
                "lock", "read", "converge", "start", "healthy", "checks", "flip", "proxy", "verify", "guard", "drain",
                "stop"
            ]
        );
        assert!(Phase::ALL.windows(2).all(|w| w[0] < w[1]));
    }
}
