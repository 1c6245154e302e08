//! Building C and C++ programs against the library this `cargo test` built: used by the C test
//! suites (`c_api.rs`, and the end-to-end suites through `cprog`), the C++ wrapper's tests
//! (`cpp_wrapper.rs`), the header checks (`header.rs`) and the static-link list check
//! (`static_libs.rs`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The language a C source is compiled as: every C test is valid C99 and C++11.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    C99,
    Cxx11,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::C99 => "C99",
            Lang::Cxx11 => "C++11",
        }
    }
}

/// The strict flags every C source of the project compiles with.
pub const STRICT: &[&str] = &[
    "-Wall",
    "-Wextra",
    "-Wpedantic",
    "-Werror",
    "-pthread",
    "-g",
];

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the test binary lives in its `deps/`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("path of the test binary");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The static library cargo built for this test run (left, unhashed, in `deps/` or uplifted).
pub fn static_lib() -> Result<PathBuf, String> {
    let candidates = [
        profile_dir().join("deps").join("libiotjobs.a"),
        profile_dir().join("libiotjobs.a"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!("no libiotjobs.a in {candidates:?}: the crate-type must include staticlib")
        })
}

/// The system libraries a static link needs, by name (`m`, `pthread`, ...), from the single
/// documented list `cmake/static-libs.txt`.
pub fn documented_static_libs() -> Result<Vec<String>, String> {
    let path = manifest_dir().join("cmake/static-libs.txt");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let libs: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect();
    if libs.is_empty() {
        return Err(format!("{} lists no library", path.display()));
    }
    Ok(libs)
}

/// [`documented_static_libs`] as `-l` flags for a link command.
pub fn static_link_libs() -> Result<Vec<String>, String> {
    Ok(documented_static_libs()?
        .iter()
        .map(|l| format!("-l{l}"))
        .collect())
}

/// The `*.c` files of a directory under the repository, sorted.
pub fn c_files(dir: &str) -> Vec<PathBuf> {
    let dir = manifest_dir().join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no C sources in {}", dir.display());
    files
}

/// Whether a C++ compiler is there. The README promises `cargo test` on a machine with Rust and
/// a C compiler only, so without one the C++ passes are left out with a loud note; in CI (`CI`
/// set) a missing C++ compiler fails instead.
pub fn cxx_compiler_present() -> bool {
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let found = Command::new(&cxx)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "no C++ compiler ({cxx}): CI must compile the C sources as C++ too"
        );
        eprintln!("NOTE: no C++ compiler ({cxx}); the C sources were compiled as C99 only");
    }
    found
}

/// Compiles and links `src` as `lang` against `include/iotjobs.h`, the test harness
/// (`tests/c/check.h`) and the static library, into `exe`. The binary is written under a
/// private name, then renamed: another test process (a valgrind run next to a plain one) may
/// be executing the previous binary right now.
pub fn compile(src: &Path, lang: Lang, exe: &Path) -> Result<(), String> {
    let (compiler, lang_args): (String, &[&str]) = match lang {
        Lang::C99 => (
            std::env::var("CC").unwrap_or_else(|_| "cc".into()),
            &["-std=c99"],
        ),
        Lang::Cxx11 => (
            std::env::var("CXX").unwrap_or_else(|_| "c++".into()),
            &["-x", "c++", "-std=c++11"],
        ),
    };
    let name = exe.file_name().unwrap_or_default().to_string_lossy();
    let tmp = exe.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut cmd = Command::new(&compiler);
    cmd.args(lang_args)
        .args(STRICT)
        .arg("-I")
        .arg(manifest_dir().join("include"))
        .arg("-I")
        .arg(manifest_dir().join("tests/c"))
        .args(extra_cflags())
        .arg(src);
    if !cfg!(feature = "websocket") {
        // The library under test is the `--no-default-features` build: check.h says what changes.
        cmd.arg("-DIOTJOBS_TEST_NO_WEBSOCKET");
    }
    if lang == Lang::Cxx11 {
        // The library and system libraries are not C++ sources.
        cmd.args(["-x", "none"]);
    }
    cmd.arg(static_lib()?)
        .args(static_link_libs()?)
        .arg("-o")
        .arg(&tmp);
    link_and_rename(cmd, &compiler, src, lang.name(), &tmp, exe)
}

/// Runs a compile-and-link command that writes `tmp`, then renames `tmp` to `exe`.
fn link_and_rename(
    mut cmd: Command,
    compiler: &str,
    src: &Path,
    what: &str,
    tmp: &Path,
    exe: &Path,
) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run {compiler}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "compiling {} as {what} failed ({}):\n{cmd:?}\n{}{}",
            src.display(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    std::fs::rename(tmp, exe).map_err(|e| format!("{} -> {}: {e}", tmp.display(), exe.display()))
}

/// A build of the C++ wrapper's programs (`include/iotjobs.hpp`): a language standard, with or
/// without exceptions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CxxBuild {
    /// `-std=` value: `c++17` or `c++20`.
    pub std: &'static str,
    pub exceptions: bool,
}

impl CxxBuild {
    /// Every build the wrapper promises to work in.
    pub const ALL: [CxxBuild; 4] = [
        CxxBuild {
            std: "c++17",
            exceptions: true,
        },
        CxxBuild {
            std: "c++17",
            exceptions: false,
        },
        CxxBuild {
            std: "c++20",
            exceptions: true,
        },
        CxxBuild {
            std: "c++20",
            exceptions: false,
        },
    ];

    /// `c++17`, `c++17-no-exceptions`, ...: for messages and file names.
    pub fn name(self) -> String {
        if self.exceptions {
            self.std.to_owned()
        } else {
            format!("{}-no-exceptions", self.std)
        }
    }
}

/// Compiles and links the C++ source `src` in `build` with the strict flags against
/// `include/iotjobs.hpp`, the C++ test harness (`tests/cpp/check.hpp`, which includes
/// `tests/c/check.h`) and the static library, into `exe` (written under a private name, then
/// renamed, as [`compile`] does). `IOTJOBS_C_TEST_CFLAGS` applies here too.
pub fn compile_cxx(src: &Path, build: CxxBuild, exe: &Path) -> Result<(), String> {
    let compiler = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    let name = exe.file_name().unwrap_or_default().to_string_lossy();
    let tmp = exe.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let mut cmd = Command::new(&compiler);
    cmd.arg(format!("-std={}", build.std)).args(STRICT);
    if !build.exceptions {
        cmd.arg("-fno-exceptions");
    }
    for dir in ["include", "tests/c", "tests/cpp"] {
        cmd.arg("-I").arg(manifest_dir().join(dir));
    }
    cmd.args(extra_cflags())
        .arg(src)
        .arg(static_lib()?)
        .args(static_link_libs()?)
        .arg("-o")
        .arg(&tmp);
    link_and_rename(cmd, &compiler, src, &build.name(), &tmp, exe)
}

/// Extra compiler flags for every C program, from `IOTJOBS_C_TEST_CFLAGS` (for example
/// `-fsanitize=address,undefined`, which `.ci/run` uses); empty when unset.
pub fn extra_cflags() -> Vec<String> {
    std::env::var("IOTJOBS_C_TEST_CFLAGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The command line each C program runs under, from `IOTJOBS_C_TEST_WRAPPER` (e.g.
/// `valgrind --error-exitcode=1 --leak-check=full`); empty when unset.
pub fn wrapper() -> Vec<String> {
    std::env::var("IOTJOBS_C_TEST_WRAPPER")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// A command running `exe` under [`wrapper`].
pub fn wrapped_command(exe: &Path) -> Command {
    let w = wrapper();
    match w.split_first() {
        Some((prog, rest)) => {
            let mut c = Command::new(prog);
            c.args(rest).arg(exe);
            c
        }
        None => Command::new(exe),
    }
}

/// The verdict line `tests/c/check.h` prints last, `CHECKS passed=N failed=M`, as (N, M).
pub fn check_summary(stdout: &str) -> Result<(usize, usize), String> {
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("CHECKS passed="))
        .ok_or("no CHECKS summary line")?;
    let (passed, failed) = line
        .split_once(" failed=")
        .ok_or_else(|| format!("not CHECKS passed=N failed=M: {line}"))?;
    let number = |s: &str| {
        s.trim()
            .parse::<usize>()
            .map_err(|e| format!("{s:?} in the CHECKS line: {e}"))
    };
    Ok((number(passed)?, number(failed)?))
}
