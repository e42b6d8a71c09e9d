//! The SQL examples of the README and of `docs/` are real: every ```sql block is run by the built
//! binary on the demo data and must succeed, and when a ```text block follows it, its output must
//! be that block.

use std::path::{Path, PathBuf};

use crate::common::{run, stderr, stdout};

/// One ```sql block and the ```text block right after it, if any.
struct Example {
    sql: String,
    output: Option<String>,
}

/// The SQL examples of a Markdown page, in order.
fn examples(page: &str) -> Vec<Example> {
    // (language, body) of each fenced block, with a "gap" marker between blocks that text separates
    let mut blocks: Vec<(String, String)> = Vec::new();
    let mut lines = page.lines().peekable();
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
    let mut examples = Vec::new();
    for (i, (lang, body)) in blocks.iter().enumerate() {
        if lang == "sql" {
            let output = blocks
                .get(i + 1)
                .filter(|(next, _)| next == "text")
                .map(|(_, text)| text.clone());
            examples.push(Example {
                sql: body.clone(),
                output,
            });
        }
    }
    examples
}

fn pages() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

#[test]
fn sql_examples_in_readme_and_docs_print_what_they_show() {
    let (mut checked, mut with_output) = (0, 0);
    for page in pages() {
        let text = std::fs::read_to_string(&page).expect("a readable page");
        for example in examples(&text) {
            let o = run(&["sql", "-c", &example.sql]);
            let name = page.display();
            assert!(o.status.success(), "{name}:\n{}\n{}", example.sql, stderr(&o));
            if let Some(want) = example.output {
                assert_eq!(
                    stdout(&o).trim_end(),
                    want.trim_end(),
                    "{name} example:\n{}",
                    example.sql
                );
                with_output += 1;
            }
            checked += 1;
        }
    }
    assert!(
        with_output >= 5 && checked >= with_output,
        "found only {checked} SQL examples, {with_output} with output"
    );
}
