//! The etcd key layout of DESIGN §6, with the classic recipe's names kept so
//! an existing confd template reads them unchanged.

use std::collections::HashMap;

use super::{Active, Deployment, Probation, Staged, StateError, Status};
use crate::domain::{Color, ImageRef, InvalidValue, KeyPrefix, ServiceName};
use crate::naming;

/// Key names under one service's prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
    name: ServiceName,
}

impl Keys {
    pub fn new(prefix: &KeyPrefix, name: &ServiceName) -> Keys {
        Keys {
            prefix: prefix.to_string(),
            name: name.clone(),
        }
    }

    /// `<prefix>/<key>`
    pub fn key(&self, key: &str) -> String {
        format!("{}/{key}", self.prefix)
    }

    /// `<prefix>/<name>_<color>/<key>`
    pub fn color_key(&self, color: Color, key: &str) -> String {
        format!("{}/{}/{key}", self.prefix, naming::instance(&self.name, color))
    }

    /// Everything under the prefix, for one range read.
    pub fn all(&self) -> String {
        format!("{}/", self.prefix)
    }

    pub fn color(&self) -> String {
        self.key("color")
    }

    /// The lock API's name: its keys are `<prefix>/lock/<lease>`.
    pub fn lock(&self) -> String {
        self.key("lock")
    }

    /// Who holds (or queues for) the lock with lease `lease_hex`.
    pub fn lock_holder(&self, lease_hex: &str) -> String {
        self.key(&format!("lock-holder/{lease_hex}"))
    }

    /// The key whose revision a flip compares: `instance`, which the classic
    /// recipe's seed and every flip write.
    pub fn revision_key(&self) -> String {
        self.key("instance")
    }

    pub fn history(&self) -> String {
        self.key("history/")
    }

    /// What a `stage` left for `promote`: one JSON value, so it is written
    /// and cleared whole.
    pub fn staged(&self) -> String {
        self.key("staged")
    }

    pub fn staged_value(staged: &Staged) -> String {
        serde_json::json!({
            "color": staged.color.as_str(),
            "image": staged.image.as_str(),
            "deploy_id": staged.deploy_id,
            "since": staged.since,
        })
        .to_string()
    }

    /// The staged color out of a range read of [`Keys::all`].
    pub fn staged_of(&self, kv: &HashMap<String, String>) -> Result<Option<Staged>, StateError> {
        #[derive(serde::Deserialize)]
        struct Stored {
            color: String,
            image: String,
            deploy_id: String,
            since: String,
        }
        let Some(value) = kv.get(&self.staged()) else {
            return Ok(None);
        };
        let corrupt = |reason: String| StateError::Corrupt {
            key: self.staged(),
            value: value.clone(),
            reason,
        };
        let stored: Stored = serde_json::from_str(value).map_err(|e| corrupt(e.to_string()))?;
        Ok(Some(Staged {
            color: stored.color.parse().map_err(|e: InvalidValue| corrupt(e.reason))?,
            image: stored.image.parse().map_err(|e: InvalidValue| corrupt(e.reason))?,
            deploy_id: stored.deploy_id,
            since: stored.since,
        }))
    }

    /// A flip not yet proven: one JSON value, written and cleared whole.
    pub fn probation(&self) -> String {
        self.key("probation")
    }

    pub fn probation_value(probation: &Probation) -> String {
        let back_to = probation.back_to.as_ref().map(|a| {
            serde_json::json!({
                "color": a.color.as_str(),
                "port": a.port.get(),
                "url": a.url,
                "image": a.image.as_ref().map(|i| i.as_str()),
                "previous": a.previous.map(Color::as_str),
                "deployed_at": a.deployed_at,
            })
        });
        serde_json::json!({ "deploy_id": probation.deploy_id, "back_to": back_to }).to_string()
    }

    /// The probation out of a range read of [`Keys::all`].
    pub fn probation_of(&self, kv: &HashMap<String, String>) -> Result<Option<Probation>, StateError> {
        #[derive(serde::Deserialize)]
        struct Back {
            color: String,
            port: u16,
            url: String,
            image: Option<String>,
            previous: Option<String>,
            deployed_at: String,
        }
        #[derive(serde::Deserialize)]
        struct Stored {
            deploy_id: String,
            back_to: Option<Back>,
        }
        let Some(value) = kv.get(&self.probation()) else {
            return Ok(None);
        };
        let corrupt = |reason: String| StateError::Corrupt {
            key: self.probation(),
            value: value.clone(),
            reason,
        };
        let invalid = |e: InvalidValue| corrupt(e.reason);
        let stored: Stored = serde_json::from_str(value).map_err(|e| corrupt(e.to_string()))?;
        let back_to = match stored.back_to {
            None => None,
            Some(b) => Some(Active {
                color: b.color.parse().map_err(invalid)?,
                port: b.port.to_string().parse().map_err(invalid)?,
                url: b.url,
                image: b.image.map(|i| i.parse()).transpose().map_err(invalid)?,
                previous: b.previous.map(|c| c.parse()).transpose().map_err(invalid)?,
                deployed_at: b.deployed_at,
            }),
        };
        Ok(Some(Probation {
            deploy_id: stored.deploy_id,
            back_to,
        }))
    }

    /// Every key a flip writes, with its value (the probation only when it
    /// sets one: clearing it is the store's delete).
    pub fn flip(&self, d: &Deployment) -> Vec<(String, String)> {
        let instance = naming::instance(&self.name, d.color);
        let previous = d.previous.map(|c| naming::instance(&self.name, c)).unwrap_or_default();
        vec![
            (self.key("instance"), instance),
            (self.key("port"), d.port.to_string()),
            (self.key("url"), d.url.clone()),
            (self.key("color"), d.color.to_string()),
            (self.key("image"), d.image.to_string()),
            (self.key("previous"), previous),
            (self.key("deployed_at"), d.deployed_at.clone()),
            (self.color_key(d.color, "port"), d.port.to_string()),
            (self.color_key(d.color, "url"), d.url.clone()),
            (self.color_key(d.color, "status"), Status::Running.as_str().to_owned()),
            (self.color_key(d.color, "image"), d.image.to_string()),
        ]
        .into_iter()
        .chain(
            d.probation
                .as_ref()
                .map(|p| (self.probation(), Keys::probation_value(p))),
        )
        .collect()
    }

    /// The keys a flip deletes: whatever was staged is live now or was
    /// replaced, and a flip that sets no probation ends any.
    pub fn cleared_by_flip(&self, d: &Deployment) -> Vec<String> {
        let probation = d.probation.is_none().then(|| self.probation());
        [self.staged()].into_iter().chain(probation).collect()
    }

    /// The top-level keys that name the live color (what `retract` deletes).
    pub fn live(&self) -> Vec<String> {
        [
            "instance",
            "port",
            "url",
            "color",
            "image",
            "previous",
            "deployed_at",
            "probation",
        ]
        .iter()
        .map(|k| self.key(k))
        .collect()
    }

    /// The live color out of a range read of [`Keys::all`]; `None` before
    /// the first deploy.
    pub fn active(&self, kv: &HashMap<String, String>) -> Result<Option<Active>, StateError> {
        let corrupt = |key: String, value: &str, reason: &str| StateError::Corrupt {
            key,
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        // `color` is bgctl's; a store seeded by the classic recipe has only
        // `instance` (`<name>_<color>`), `port` and `url`.
        let color = match (kv.get(&self.color()), kv.get(&self.revision_key())) {
            (Some(c), _) => c
                .parse()
                .map_err(|e: InvalidValue| corrupt(self.color(), c, &e.reason))?,
            (None, Some(instance)) => self
                .color_of(instance)
                .ok_or_else(|| corrupt(self.revision_key(), instance, "not an instance of this service"))?,
            (None, None) => return Ok(None),
        };
        let port_key = self.key("port");
        let port = kv
            .get(&port_key)
            .ok_or_else(|| corrupt(port_key.clone(), "", "missing: the live port"))?;
        let port = port
            .parse()
            .map_err(|e: InvalidValue| corrupt(port_key, port, &e.reason))?;
        let image = [self.key("image"), self.color_key(color, "image")]
            .into_iter()
            .find_map(|key| kv.get(&key).map(|v| (key, v)))
            .map(|(key, v)| v.parse().map_err(|e: InvalidValue| corrupt(key, v, &e.reason)))
            .transpose()?;
        let previous = kv.get(&self.key("previous")).filter(|p| !p.is_empty());
        let previous = previous
            .map(|p| {
                self.color_of(p)
                    .ok_or_else(|| corrupt(self.key("previous"), p, "not an instance of this service"))
            })
            .transpose()?;
        Ok(Some(Active {
            color,
            port,
            image,
            url: kv.get(&self.key("url")).cloned().unwrap_or_default(),
            deployed_at: kv.get(&self.key("deployed_at")).cloned().unwrap_or_default(),
            previous,
        }))
    }

    /// The image each color last ran, as its `<name>_<color>/image` says.
    pub fn images(&self, kv: &HashMap<String, String>) -> HashMap<Color, ImageRef> {
        Color::ALL
            .into_iter()
            .filter_map(|c| Some((c, kv.get(&self.color_key(c, "image"))?.parse().ok()?)))
            .collect()
    }

    /// The color of an instance name `<name>_<color>`.
    fn color_of(&self, instance: &str) -> Option<Color> {
        Color::ALL
            .into_iter()
            .find(|c| naming::instance(&self.name, *c) == instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Port;

    fn keys() -> Keys {
        Keys::new(&"/bdd-assistant".parse().unwrap(), &"bdd_assistant".parse().unwrap())
    }

    fn deployment() -> Deployment {
        Deployment {
            color: Color::Green,
            port: Port::new(9002).unwrap(),
            url: "127.0.0.1:9002".into(),
            image: "app:v2".parse().unwrap(),
            previous: Some(Color::Blue),
            deployed_at: "2026-11-27T14:00:00Z".into(),
            probation: None,
        }
    }

    #[test]
    fn a_flip_writes_the_classic_recipes_keys() {
        let kv: HashMap<String, String> = keys().flip(&deployment()).into_iter().collect();
        let get = |k: &str| kv.get(k).map(String::as_str);
        assert_eq!(get("/bdd-assistant/instance"), Some("bdd_assistant_green"));
        assert_eq!(get("/bdd-assistant/port"), Some("9002"));
        assert_eq!(get("/bdd-assistant/url"), Some("127.0.0.1:9002"));
        assert_eq!(get("/bdd-assistant/color"), Some("green"));
        assert_eq!(get("/bdd-assistant/previous"), Some("bdd_assistant_blue"));
        assert_eq!(get("/bdd-assistant/bdd_assistant_green/status"), Some("running"));
        assert_eq!(get("/bdd-assistant/bdd_assistant_green/image"), Some("app:v2"));
        assert_eq!(kv.len(), 11);
    }

    #[test]
    fn a_flip_on_probation_keeps_the_way_back_and_a_proven_one_clears_it() {
        let before = keys()
            .active(&keys().flip(&deployment()).into_iter().collect())
            .unwrap();
        let probation = Probation {
            deploy_id: "d7".into(),
            back_to: before,
        };
        let on_probation = Deployment {
            color: Color::Blue,
            port: Port::new(9001).unwrap(),
            probation: Some(probation.clone()),
            ..deployment()
        };
        let kv: HashMap<String, String> = keys().flip(&on_probation).into_iter().collect();
        assert_eq!(keys().probation_of(&kv).unwrap(), Some(probation));
        assert!(!keys().cleared_by_flip(&on_probation).contains(&keys().probation()));
        assert!(keys().cleared_by_flip(&deployment()).contains(&keys().probation()));
        assert!(keys().live().contains(&keys().probation()), "a retract ends it too");
        let first = Probation {
            deploy_id: "d1".into(),
            back_to: None,
        };
        let kv = HashMap::from([(keys().probation(), Keys::probation_value(&first))]);
        assert_eq!(keys().probation_of(&kv).unwrap(), Some(first));
        let kv = HashMap::from([(keys().probation(), "{\"deploy_id\": 1}".to_owned())]);
        assert!(matches!(keys().probation_of(&kv), Err(StateError::Corrupt { .. })));
    }

    #[test]
    fn active_reads_back_what_a_flip_wrote() {
        let kv: HashMap<String, String> = keys().flip(&deployment()).into_iter().collect();
        let active = keys().active(&kv).unwrap().unwrap();
        assert_eq!(
            (active.color, active.port.get(), active.previous),
            (Color::Green, 9002, Some(Color::Blue))
        );
        assert_eq!(active.image.unwrap().as_str(), "app:v2");
        assert_eq!(keys().active(&HashMap::new()).unwrap(), None);
    }

    #[test]
    fn staged_reads_back_what_was_written_and_refuses_garbage() {
        let staged = Staged {
            color: Color::Green,
            image: "app:v3".parse().unwrap(),
            deploy_id: "d9".into(),
            since: "2026-12-02T00:00:00Z".into(),
        };
        let mut kv = HashMap::from([(keys().staged(), Keys::staged_value(&staged))]);
        assert_eq!(keys().staged_of(&kv).unwrap(), Some(staged));
        assert_eq!(keys().staged_of(&HashMap::new()).unwrap(), None);
        kv.insert(
            keys().staged(),
            r#"{"color":"purple","image":"a","deploy_id":"","since":""}"#.into(),
        );
        assert!(matches!(keys().staged_of(&kv), Err(StateError::Corrupt { .. })));
    }

    #[test]
    fn a_store_seeded_by_the_classic_recipe_reads_as_live() {
        let kv: HashMap<String, String> = [
            ("/bdd-assistant/instance", "bdd_assistant_green"),
            ("/bdd-assistant/port", "9002"),
            ("/bdd-assistant/url", "10.0.0.5:9002"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let active = keys().active(&kv).unwrap().unwrap();
        assert_eq!(
            (active.color, active.port.get(), active.image),
            (Color::Green, 9002, None)
        );
    }

    #[test]
    fn active_refuses_a_corrupt_store() {
        let mut kv: HashMap<String, String> = keys().flip(&deployment()).into_iter().collect();
        kv.insert("/bdd-assistant/color".into(), "purple".into());
        assert!(matches!(keys().active(&kv), Err(StateError::Corrupt { .. })));
        let mut kv: HashMap<String, String> = keys().flip(&deployment()).into_iter().collect();
        kv.remove("/bdd-assistant/port");
        assert!(matches!(keys().active(&kv), Err(StateError::Corrupt { .. })));
    }
}
