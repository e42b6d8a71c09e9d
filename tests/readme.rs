//! The README's SQL examples are real: every ```sql block followed by a ```text block is run by the
//! built binary on the demo data, and its output must be that block.

use std::process::Command;

/// (sql, expected output) pairs of the README, in order.
fn examples(readme: &str) -> Vec<(String, String)> {
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```").filter(|l| !l.is_empty()) {
            let mut body = String::new();
            for l in lines.by_ref() {
                if l == "```" {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            blocks.push((lang.to_string(), body));
            // blocks separated only by blank lines are adjacent
            while lines.peek().is_some_and(|l| l.trim().is_empty()) {
                lines.next();
            }
            if !lines.peek().is_some_and(|l| l.starts_with("```")) {
                blocks.push(("gap".into(), String::new()));
            }
        }
    }
    blocks
        .windows(2)
        .filter(|w| w[0].0 == "sql" && w[1].0 == "text")
        .map(|w| (w[0].1.clone(), w[1].1.clone()))
        .collect()
}

#[test]
fn readme_sql_examples_print_what_the_readme_shows() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let pairs = examples(&readme);
    assert!(pairs.len() >= 5, "found only {} examples", pairs.len());
    for (sql, want) in pairs {
        let out = Command::new(env!("CARGO_BIN_EXE_agent-refusal"))
            .args(["sql", "-c", &sql])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(got.trim_end(), want.trim_end(), "README example:\n{sql}");
    }
}
