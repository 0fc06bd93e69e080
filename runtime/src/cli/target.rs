//! What the reloader rebuilds: the same target `cargo run` built, found from what cargo
//! gives the process it runs (`CARGO`, `CARGO_MANIFEST_DIR`, `CARGO_PKG_NAME`) and from
//! where the binary lies: `TARGET_DIR/[TRIPLE/]PROFILE/[examples/]NAME`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A binary or an example of a package, as cargo built it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub(crate) cargo: OsString,
    /// The package's folder.
    pub(crate) crate_dir: PathBuf,
    pub(crate) package: String,
    /// `--bin NAME` or `--example NAME`.
    pub(crate) kind: (&'static str, String),
    /// `--release`, `--profile NAME` or nothing (the dev profile).
    pub(crate) profile: Vec<String>,
    /// `--target TRIPLE`, when cargo built for one.
    pub(crate) triple: Option<String>,
    pub(crate) target_dir: PathBuf,
    /// The binary, where cargo puts it again after each build.
    pub(crate) exe: PathBuf,
}

impl Target {
    /// The target of this process, or why it cannot be told.
    pub(crate) fn of_this_process() -> Result<Target, String> {
        let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).ok_or(
            "the app was not started by `cargo run` (CARGO_MANIFEST_DIR is not set), so it cannot be rebuilt: \
             start it with `cargo run -- run --debug`",
        )?;
        let package = std::env::var("CARGO_PKG_NAME").map_err(|_| "CARGO_PKG_NAME is not set".to_string())?;
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let exe = std::env::current_exe().map_err(|e| format!("cannot tell this program's path: {e}"))?;
        Target::from_parts(cargo, crate_dir, package, exe)
    }

    fn from_parts(
        cargo: OsString,
        crate_dir: PathBuf,
        package: String,
        exe: PathBuf,
    ) -> Result<Target, String> {
        let unknown = || format!("cannot tell how cargo built {}", exe.display());
        let name = exe.file_stem().ok_or_else(unknown)?.to_string_lossy().into_owned();
        let parent = exe.parent().ok_or_else(unknown)?;
        let (kind, profile_dir) = if parent.file_name().is_some_and(|n| n == "examples") {
            ("--example", parent.parent().ok_or_else(unknown)?)
        } else {
            ("--bin", parent)
        };
        let profile_name = profile_dir.file_name().ok_or_else(unknown)?.to_string_lossy().into_owned();
        let profile = match profile_name.as_str() {
            "debug" => vec![],
            "release" => vec!["--release".to_string()],
            other => vec!["--profile".to_string(), other.to_string()],
        };
        let above = profile_dir.parent().ok_or_else(unknown)?;
        let (target_dir, triple) = if is_target_dir(above) {
            (above.to_path_buf(), None)
        } else {
            let dir = above.parent().filter(|d| is_target_dir(d)).ok_or_else(unknown)?;
            (dir.to_path_buf(), above.file_name().map(|t| t.to_string_lossy().into_owned()))
        };
        Ok(Target { cargo, crate_dir, package, kind: (kind, name), profile, triple, target_dir, exe })
    }

    /// The arguments of `cargo build` for this target, as a line to show.
    pub(crate) fn describe(&self) -> String {
        format!("cargo {}", self.args(false).join(" "))
    }

    fn args(&self, colour: bool) -> Vec<String> {
        let mut args = vec![
            "build".to_string(),
            "-p".to_string(),
            self.package.clone(),
            self.kind.0.to_string(),
            self.kind.1.clone(),
        ];
        args.extend(self.profile.iter().cloned());
        if let Some(triple) = &self.triple {
            args.extend(["--target".to_string(), triple.clone()]);
        }
        if colour {
            args.extend(["--color".to_string(), "always".to_string()]);
        }
        args
    }

    /// The `cargo build` that rebuilds the binary.
    pub(crate) fn build_command(&self, colour: bool) -> Command {
        let mut command = Command::new(&self.cargo);
        command
            .args(self.args(colour))
            .arg("--manifest-path")
            .arg(self.crate_dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", &self.target_dir)
            .stdin(std::process::Stdio::null());
        command
    }
}

/// Cargo marks its target folder with `CACHEDIR.TAG`.
fn is_target_dir(dir: &Path) -> bool {
    dir.join("CACHEDIR.TAG").is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_is_read_from_the_binary_path() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        std::fs::create_dir_all(target.join("debug/examples")).unwrap();
        std::fs::create_dir_all(target.join("x86_64-unknown-linux-gnu/release")).unwrap();
        std::fs::write(target.join("CACHEDIR.TAG"), "").unwrap();
        let t = |exe: PathBuf| Target::from_parts("cargo".into(), root.path().into(), "app".into(), exe);

        let bin = t(target.join("debug/app")).unwrap();
        assert_eq!(bin.describe(), "cargo build -p app --bin app");
        assert_eq!(bin.target_dir, target);
        let example = t(target.join("debug/examples/flaskr")).unwrap();
        assert_eq!(example.describe(), "cargo build -p app --example flaskr");
        let cross = t(target.join("x86_64-unknown-linux-gnu/release/app")).unwrap();
        assert_eq!(
            cross.describe(),
            "cargo build -p app --bin app --release --target x86_64-unknown-linux-gnu"
        );
        assert!(t(PathBuf::from("/usr/bin/app")).is_err());
    }
}
