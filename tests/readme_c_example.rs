//! The README's C example compiles as strict C99 against the committed header, and its C++
//! example as strict C++17, with and without exceptions, against the C++ wrapper: what a
//! newcomer copies first must work.

mod support;

use std::process::Command;
use support::cbuild::{cxx_compiler_present, manifest_dir};

#[test]
fn the_readme_c_example_compiles() {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let start = readme.find("```c\n").expect("a C block in the README") + 5;
    let end = start + readme[start..].find("```").expect("the block ends");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme-example");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("example.c");
    std::fs::write(&src, &readme[start..end]).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(cc)
        .args([
            "-std=c99",
            "-Wall",
            "-Wextra",
            "-Wpedantic",
            "-Werror",
            "-fsyntax-only",
            "-I",
        ])
        .arg(manifest_dir().join("include"))
        .arg(&src)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the README's C example does not compile:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_readme_cpp_example_compiles() {
    if !cxx_compiler_present() {
        return; // allowed outside CI only; the note says so
    }
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let start = readme.find("```cpp\n").expect("a C++ block in the README") + 7;
    let end = start + readme[start..].find("```").expect("the block ends");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme-example");
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("example.cpp");
    std::fs::write(&src, &readme[start..end]).unwrap();
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "c++".into());
    for exceptions in [&[][..], &["-fno-exceptions"][..]] {
        let out = Command::new(&cxx)
            .args(["-std=c++17", "-Wall", "-Wextra", "-Wpedantic", "-Werror"])
            .args(exceptions)
            .args(["-fsyntax-only", "-I"])
            .arg(manifest_dir().join("include"))
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "the README's C++ example does not compile {exceptions:?}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
