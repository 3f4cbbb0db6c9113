//! nginx: sites applied, verified and counted as a test says.

use super::*;

/// nginx: keeps the site in memory; verify succeeds unless told otherwise.
pub(crate) struct FakeProxy<'a> {
    pub(crate) log: &'a Log,
    pub(crate) site: RefCell<Option<String>>,
    /// The color nginx has loaded (changes only on apply, as a reload does).
    pub(crate) loaded: Cell<Option<Color>>,
    /// The color whose verify fails (the new one, when a test says so).
    pub(crate) verify_fails: Option<Color>,
    /// Applies that succeed before the rest fail (nginx -t says no).
    pub(crate) applies_left: Cell<usize>,
    /// What each look at the guard's log finds (nothing: a blind guard).
    pub(crate) traffic: Option<Tally>,
    /// Another proxy keeps answering with the new color after a rollback.
    pub(crate) others_stay: bool,
}

impl<'a> FakeProxy<'a> {
    /// nginx serving `site` (nothing: no file), every apply taken.
    pub(crate) fn serving(log: &'a Log, site: Option<String>) -> Self {
        FakeProxy {
            log,
            loaded: Cell::new(site.as_deref().and_then(render::site_color)),
            site: RefCell::new(site),
            verify_fails: None,
            applies_left: Cell::new(usize::MAX),
            traffic: None,
            others_stay: false,
        }
    }
}

impl Proxy for FakeProxy<'_> {
    async fn served_by(&self) -> Option<Color> {
        self.loaded.get()
    }
    async fn previewed_by(&self) -> Option<Color> {
        None
    }
    fn guard_counts(&self, _: Color) -> Result<Tally, ProxyError> {
        Ok(self.traffic.unwrap_or_default())
    }
    async fn install(&self, site: &render::RenderedFile) -> Result<Installed, ProxyError> {
        self.apply(site).await.map(|()| Installed::Reloaded)
    }
    async fn ensure_running(&self) -> Result<(), ProxyError> {
        Ok(())
    }
    async fn current(&self) -> Result<Option<String>, ProxyError> {
        Ok(self.site.borrow().clone())
    }
    async fn apply(&self, site: &render::RenderedFile) -> Result<(), ProxyError> {
        let to = render::site_color(&site.contents).map_or("none".into(), |c| c.to_string());
        if self.applies_left.get() == 0 {
            self.log.push(format!("site {to} refused"));
            return Err(ProxyError::Invalid {
                message: "nginx: [emerg] test".into(),
            });
        }
        self.applies_left.set(self.applies_left.get() - 1);
        self.log.push(format!("site {to}"));
        *self.site.borrow_mut() = Some(site.contents.clone());
        self.loaded.set(render::site_color(&site.contents));
        Ok(())
    }
    async fn serves(&self, color: Color) -> bool {
        self.loaded.get() == Some(color)
    }
    async fn drain(&self, color: Color, _: Duration, _: DrainWait) -> Drained {
        self.log.push(format!("drain {color}"));
        Drained::default()
    }
    async fn reset_traffic(&self) -> Result<(), ProxyError> {
        self.log.push("guard log reset".into());
        Ok(())
    }
    async fn traffic(&self, _: Color) -> Result<Tally, ProxyError> {
        Ok(self.traffic.unwrap_or_default())
    }
    async fn verify_others(&self, color: Color, _: Duration) -> Result<(), ProxyError> {
        self.log.push(format!("verify others {color}"));
        Ok(())
    }
    async fn others_left(&self, color: Color, limit: Duration) -> Result<(), ProxyError> {
        self.log.push(format!("others left {color}"));
        match self.others_stay {
            false => Ok(()),
            true => Err(ProxyError::OtherStillOn {
                url: "http://proxy-2".into(),
                color,
                limit,
            }),
        }
    }
    async fn verify_preview(&self, color: Color, _: Duration) -> Result<(), ProxyError> {
        self.log.push(format!("preview {color}"));
        Ok(())
    }
    async fn verify(&self, color: Color, limit: Duration) -> Result<(), ProxyError> {
        self.log.push(format!("verify {color}"));
        if self.verify_fails != Some(color) {
            Ok(())
        } else {
            Err(ProxyError::Verify {
                port: 80,
                expected: color,
                limit,
                last: "HTTP 502 from nobody".into(),
            })
        }
    }
}
