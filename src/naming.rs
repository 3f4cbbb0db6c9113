//! The names bgctl gives things, in one place: units, containers, drop-ins.
//! All are built from validated parts, so they are valid by construction.

use crate::domain::{Color, Port, ServiceName, UnitName};

/// The environment file, in the color's drop-in directory, that carries its
/// image (DESIGN §3). Not a `.conf`: systemd never reads it as a drop-in.
pub const IMAGE_ENV: &str = "image.env";

/// The drop-in that carried a color's image before [`IMAGE_ENV`]; install
/// moves it.
pub const LEGACY_IMAGE_DROPIN: &str = "50-bgctl-image.conf";

/// `<name>_<color>`: the container's name, the syslog identifier and the
/// classic recipe's `instance` value.
pub fn instance(name: &ServiceName, color: Color) -> String {
    format!("{name}_{color}")
}

/// `<name>_<color>@.service`: the template unit file.
pub fn template_unit(name: &ServiceName, color: Color) -> String {
    format!("{}@.service", instance(name, color))
}

/// `<name>_<color>@<port>.service`: the unit that runs.
pub fn instance_unit(name: &ServiceName, color: Color, port: Port) -> UnitName {
    UnitName::parse(&format!("{}@{port}.service", instance(name, color))).expect("built from validated parts")
}

/// `<name>_<color>@.service.d`: the template's drop-in directory.
pub fn dropin_dir(name: &ServiceName, color: Color) -> String {
    format!("{}.d", template_unit(name, color))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_classic_recipe() {
        let name = ServiceName::parse("bdd_assistant").unwrap();
        assert_eq!(instance(&name, Color::Blue), "bdd_assistant_blue");
        assert_eq!(template_unit(&name, Color::Green), "bdd_assistant_green@.service");
        let port = Port::new(9001).unwrap();
        assert_eq!(
            instance_unit(&name, Color::Blue, port).as_str(),
            "bdd_assistant_blue@9001.service"
        );
        assert_eq!(dropin_dir(&name, Color::Blue), "bdd_assistant_blue@.service.d");
    }
}
