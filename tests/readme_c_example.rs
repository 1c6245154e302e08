//! The README's C examples compile as strict C99 against the committed header, and its C++
//! example as strict C++17, with and without exceptions, against the C++ wrapper: what a
//! newcomer copies first must work.

mod support;

use std::process::Command;
use support::cbuild::{cxx_compiler_present, manifest_dir};

/// Every ```c block of the README, in order.
fn c_blocks(readme: &str) -> Vec<&str> {
    let mut blocks = Vec::new();
    let mut rest = readme;
    while let Some(i) = rest.find("```c\n") {
        let body = &rest[i + 5..];
        let end = body.find("```").expect("the block ends");
        blocks.push(&body[..end]);
        rest = &body[end + 3..];
    }
    blocks
}

#[test]
fn every_readme_c_example_compiles() {
    let readme = std::fs::read_to_string(manifest_dir().join("README.md")).unwrap();
    let blocks = c_blocks(&readme);
    assert!(
        blocks.len() >= 2,
        "the README's C examples: {}",
        blocks.len()
    );
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("readme-example");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, block) in blocks.iter().enumerate() {
        let src = dir.join(format!("example{i}.c"));
        std::fs::write(&src, block).unwrap();
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
            "the README's C example {i} does not compile:\n{}\n{block}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
