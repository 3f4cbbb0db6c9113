//! What a site on disk routes to, read back from the lines bgctl writes
//! (`# bgctl-live: <color>` and the upstream's first `server`), so status
//! can say where nginx sends users even when the file was edited by hand.

use crate::domain::Color;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SiteTarget {
    /// The color the file says it serves; `None` for the 503 page or a
    /// file without the line.
    pub color: Option<Color>,
    /// The port of the upstream's first (not backup) server.
    pub port: Option<u16>,
}

pub fn site_target(text: &str) -> SiteTarget {
    let color = text
        .lines()
        .find_map(|l| l.strip_prefix("# bgctl-live: "))
        .and_then(|c| c.trim().parse().ok());
    // Users' upstream only: the preview's (`…_preview`) is never theirs.
    let mut in_preview = false;
    let port = text
        .lines()
        .map(str::trim)
        .filter(|l| {
            if l.starts_with("upstream ") {
                in_preview = l.trim_end_matches(" {").ends_with("_preview");
            }
            !in_preview
        })
        .filter(|l| l.starts_with("server ") && !l.contains(" backup"))
        .find_map(|l| {
            let addr = l.split_whitespace().nth(1)?;
            addr.trim_end_matches(';').rsplit_once(':')?.1.parse().ok()
        });
    SiteTarget { color, port }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render;

    #[test]
    fn a_rendered_site_reads_back_as_its_color_and_port() {
        let config = crate::config::Config::parse("name = \"web\"\nimage = \"web:1\"\n").unwrap();
        for live in [Some(Color::Blue), Some(Color::Green)] {
            let text = render::site(&config, live).unwrap().contents;
            let port = config.port(live.unwrap()).get();
            assert_eq!(
                site_target(&text),
                SiteTarget {
                    color: live,
                    port: Some(port)
                }
            );
        }
        let none = render::site(&config, None).unwrap().contents;
        assert_eq!(site_target(&none), SiteTarget::default());
        let previewed =
            crate::config::Config::parse("name = \"web\"\nimage = \"web:1\"\n[proxy]\npreview_listen = 8081\n")
                .unwrap();
        let none = render::site(&previewed, None).unwrap().contents;
        assert_eq!(
            site_target(&none),
            SiteTarget::default(),
            "the preview's upstream is not users'"
        );
        let blue = render::site(&previewed, Some(Color::Blue)).unwrap().contents;
        assert_eq!(site_target(&blue).port, Some(9001));
    }

    #[test]
    fn a_hand_edited_upstream_is_what_counts() {
        let text = "# bgctl-live: blue\nupstream x {\n    server 127.0.0.1:9999 max_fails=0;\n    server 127.0.0.1:9001 backup;\n}\n";
        assert_eq!(site_target(text).port, Some(9999));
        assert_eq!(site_target(text).color, Some(Color::Blue));
    }
}
