//! What `install` must do to the files on disk: pure, given what is there.

use crate::render::{RenderedFile, WritePolicy};

/// One rendered file against the file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileAction {
    /// Missing: write it.
    Create,
    /// Differs and the config owns it: overwrite (`old` is what is there).
    Update { old: String },
    /// Already what the render says.
    Unchanged,
    /// Differs, but a deploy owns it now (drop-in image, live site): keep it.
    Keep,
}

impl FileAction {
    pub fn writes(&self) -> bool {
        matches!(self, FileAction::Create | FileAction::Update { .. })
    }
}

/// Pairs each rendered file with the current contents of its path (`None`
/// when missing) and says what to do.
pub fn plan_files(
    files: &[RenderedFile],
    current: Vec<Option<String>>,
) -> Vec<(&RenderedFile, FileAction)> {
    files
        .iter()
        .zip(current)
        .map(|(file, now)| {
            let action = match now {
                None => FileAction::Create,
                Some(now) if now == file.contents => FileAction::Unchanged,
                Some(_) if file.policy == WritePolicy::CreateOnly => FileAction::Keep,
                Some(old) => FileAction::Update { old },
            };
            (file, action)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AbsPath;

    fn file(policy: WritePolicy) -> RenderedFile {
        RenderedFile {
            path: AbsPath::parse("/x").unwrap(),
            contents: "new\n".into(),
            policy,
        }
    }

    #[test]
    fn units_converge_while_deploy_owned_files_are_only_created() {
        let files = [file(WritePolicy::Converge), file(WritePolicy::CreateOnly)];
        let actions = |now: [Option<&str>; 2]| -> Vec<FileAction> {
            plan_files(&files, now.iter().map(|n| n.map(str::to_owned)).collect())
                .into_iter()
                .map(|(_, a)| a)
                .collect()
        };
        assert_eq!(
            actions([None, None]),
            [FileAction::Create, FileAction::Create]
        );
        assert_eq!(
            actions([Some("new\n"), Some("new\n")]),
            [FileAction::Unchanged, FileAction::Unchanged]
        );
        assert_eq!(
            actions([Some("old\n"), Some("deployed\n")]),
            [
                FileAction::Update {
                    old: "old\n".into()
                },
                FileAction::Keep
            ]
        );
        assert!(
            FileAction::Create.writes()
                && !FileAction::Keep.writes()
                && !FileAction::Unchanged.writes()
        );
    }
}
