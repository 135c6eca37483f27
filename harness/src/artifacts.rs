//! Failure artifacts: everything a person needs to understand a failed seed,
//! written to `<dir>/<scenario>/<seed>/`.

use std::path::PathBuf;

/// `$OBSIM_ARTIFACTS_DIR`, else `<target dir>/obsim/failures`, where the
/// target dir is `$CARGO_TARGET_DIR` or the `target` folder beside the
/// nearest `Cargo.lock` above the working directory.
pub(crate) fn default_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("OBSIM_ARTIFACTS_DIR") {
        return Some(PathBuf::from(dir));
    }
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cwd = std::env::current_dir().ok()?;
            let root = cwd
                .ancestors()
                .find(|dir| dir.join("Cargo.lock").is_file())
                .unwrap_or(&cwd)
                .to_path_buf();
            root.join("target")
        }
    };
    Some(target.join("obsim").join("failures"))
}
