//! Phase `flip`: the target becomes live in the state store, in one
//! compare-and-swap on the revision read under the lock, on probation
//! until verify and the guard have passed (see [`Probation`]).

use super::run::Run;
use super::{Host, Report, SwitchError, Target, now_rfc3339};
use crate::state::{Deployment, Probation, Snapshot, StateError, StateStore};

/// What the flip wrote, and at which revision.
pub(super) struct Flipped {
    pub revision: i64,
    pub deployment: Deployment,
}

impl<H: Host, R: Report> Run<'_, '_, H, R> {
    pub async fn flip(&mut self, snapshot: &Snapshot, target: &Target) -> Result<Flipped, SwitchError> {
        let config = self.world.config;
        let deployment = Deployment {
            color: target.to,
            port: config.port(target.to),
            url: config.url(target.to),
            image: target.image.clone(),
            previous: target.from,
            deployed_at: now_rfc3339(),
            probation: Some(Probation {
                deploy_id: self.request.deploy_id.clone(),
                back_to: snapshot.active.clone(),
            }),
        };
        match self.world.state.flip(snapshot.revision, &deployment).await {
            Ok(revision) => Ok(Flipped { revision, deployment }),
            // Certainly not flipped: the new color goes.
            Err(e @ (StateError::Conflict { .. } | StateError::LockLost(_))) => {
                Err(self.abandon(target.to, e.into()).await)
            }
            // Maybe flipped (etcd may have committed before the error): the
            // new color stays up, since the state may name it live.
            Err(e) => Err(e.into()),
        }
    }

    /// The flip is proven: the same keys again, the probation cleared.
    /// Returns the revision a rollback must now find.
    pub async fn end_probation(&mut self, flipped: &Flipped) -> Result<i64, SwitchError> {
        let proven = Deployment {
            probation: None,
            ..flipped.deployment.clone()
        };
        Ok(self.world.state.flip(flipped.revision, &proven).await?)
    }
}
