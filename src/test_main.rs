//! [`Suite::main`]: each scenario file is one test of a `harness = false`
//! test target, run by libtest-mimic, the standard crate for custom test
//! harnesses. So `cargo test -- <part of a path>` filters, `--list` lists,
//! `--exact` works, each file passes or fails on its own, and
//! `cargo nextest run --partition count:1/4` shards the files.

use libtest_mimic::{Arguments, Failed, Trial};

use crate::suite::Suite;

impl Suite {
    /// Runs the suite as a test harness and exits with its result. Call it
    /// from the `main` of a test target declared with `harness = false`.
    pub fn main(self) -> ! {
        let mut args = Arguments::from_args();
        // insta finds the workspace from the manifest of the crate that
        // asserts, which is obsim's; the snapshots are the user's. cargo sets
        // CARGO_MANIFEST_DIR for the test process, before any thread exists.
        if std::env::var_os("INSTA_WORKSPACE_ROOT").is_none() {
            if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
                std::env::set_var("INSTA_WORKSPACE_ROOT", dir);
            }
        }
        // Each file already sweeps its seeds on every core, so files run one
        // at a time unless `--test-threads` says otherwise: running them all
        // at once would only multiply memory, not speed.
        if args.test_threads.is_none() {
            args.test_threads = Some(1);
        }
        let trials = match crate::suite::refuse_retired_variables().and_then(|()| self.trials()) {
            Ok(trials) => trials,
            Err(error) => {
                eprintln!("obsim: {error}");
                std::process::exit(2);
            }
        };
        let total = trials.len();
        let conclusion = libtest_mimic::run(&args, trials);
        let ran = conclusion.num_passed + conclusion.num_failed + conclusion.num_ignored;
        if let (Some(filter), false, 0) = (&args.filter, args.list, ran) {
            // cargo hands the same filter to every test target of a package,
            // so an unmatched filter here is not an error by itself (libtest
            // convention); it is said out loud so a typo is not missed.
            eprintln!(
                "obsim: the filter {filter:?} matched none of the {total} scenario files under {}",
                self.dir().display()
            );
        }
        conclusion.exit()
    }

    /// One libtest-mimic trial per scenario file, named by its path under the
    /// suite's folder. For embedding in a harness of your own; most users
    /// want [`Suite::main`].
    pub fn trials(&self) -> Result<Vec<Trial>, String> {
        let files = self.files()?;
        let shared = Suite::shared_names(&files);
        let mut target = TestTarget::current();
        if let Some(name) = &self.test_target {
            target.target = Some(name.clone());
        }
        let trials = files
            .into_iter()
            .map(|file| {
                let clash = shared
                    .iter()
                    .find(|(_, names)| names.contains(&file.name))
                    .map(|(name, names)| {
                        format!(
                            "the files {} are all named {name:?}: a scenario's name names its artifacts, so it must be unique",
                            names.join(", ")
                        )
                    });
                let replay = target.replay(&file.name);
                let suite = self.clone();
                Trial::test(file.name.clone(), move || {
                    if let Some(clash) = clash {
                        return Err(Failed::from(clash));
                    }
                    suite
                        .run_file(&file, &replay)
                        .map(|_| ())
                        .map_err(Failed::from)
                })
            })
            .collect();
        Ok(trials)
    }
}

/// The package and test target this process is, so the replay line names
/// the user's own test, not obsim's.
struct TestTarget {
    package: Option<String>,
    target: Option<String>,
}

impl TestTarget {
    fn current() -> TestTarget {
        // cargo (and nextest) set CARGO_PKG_NAME for the test processes they
        // start.
        let package = std::env::var("CARGO_PKG_NAME").ok();
        let exe = std::env::current_exe().ok();
        TestTarget::of(exe.as_deref(), package)
    }

    /// Test binaries are named `<target>-<16 hex digits>`.
    fn of(exe: Option<&std::path::Path>, package: Option<String>) -> TestTarget {
        let target = exe.and_then(|exe| {
            let stem = exe.file_stem()?.to_str()?.to_string();
            Some(match stem.rsplit_once('-') {
                Some((name, hash))
                    if hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()) =>
                {
                    name.to_string()
                }
                _ => stem,
            })
        });
        TestTarget { package, target }
    }

    /// `cargo test -p <package> --test <target> -- --exact <test>`.
    fn replay(&self, test: &str) -> String {
        let mut command = String::from("cargo test");
        if let Some(package) = &self.package {
            command.push_str(&format!(" -p {package}"));
        }
        if let Some(target) = &self.target {
            command.push_str(&format!(" --test {target}"));
        }
        command.push_str(&format!(" -- --exact {test}"));
        command
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::TestTarget;

    #[test]
    fn replay_names_the_users_package_target_and_file() {
        let exe = Path::new("/p/target/debug/deps/scenarios-0123456789abcdef");
        let target = TestTarget::of(Some(exe), Some("my-service".into()));
        assert_eq!(
            target.replay("storage/disk-full.toml"),
            "cargo test -p my-service --test scenarios -- --exact storage/disk-full.toml"
        );
    }

    #[test]
    fn a_binary_without_cargos_hash_keeps_its_whole_name() {
        let exe = Path::new("/p/target/debug/deps/my-scenarios");
        let target = TestTarget::of(Some(exe), None);
        assert_eq!(
            target.replay("a.toml"),
            "cargo test --test my-scenarios -- --exact a.toml"
        );
    }
}
