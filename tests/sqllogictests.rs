//! Runs the SQL behaviour tests in `tests/sqllogictest/*.slt` with DataFusion's sqllogictest
//! engine, each file in a fresh session with everything of this crate registered.
//!
//! `cargo test --test sqllogictests` runs them; a name fragment after `--` runs only matching files.
//! `SLT_COMPLETE=1` rewrites the expected results of the files from the actual ones (review the diff).

use std::path::{Path, PathBuf};

use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_sqllogictest::{DataFusion, df_value_validator, value_normalizer};
use indicatif::ProgressBar;
use sqllogictest::strict_column_validator;

fn files(filter: Option<&str>) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sqllogictest");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/sqllogictest exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .filter(|p| filter.is_none_or(|f| p.to_string_lossy().contains(f)))
        .collect();
    files.sort();
    files
}

fn session() -> SessionContext {
    // Two partitions keep plans stable across machines with different core counts.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    agent_refusal::register(&ctx).expect("register");
    ctx
}

#[tokio::main]
async fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let complete = std::env::var_os("SLT_COMPLETE").is_some();
    let (mut passed, mut failed) = (0, 0);
    for path in files(filter.as_deref()) {
        let ctx = session();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let mut runner = sqllogictest::Runner::new(|| {
            let ctx = ctx.clone();
            let name = PathBuf::from(&name);
            async move { Ok(DataFusion::new(ctx, name, ProgressBar::hidden())) }
        });
        runner.with_column_validator(strict_column_validator);
        runner.with_normalizer(value_normalizer);
        runner.with_validator(df_value_validator);
        let result = if complete {
            runner
                .update_test_file(
                    &path,
                    " ",
                    df_value_validator,
                    value_normalizer,
                    strict_column_validator,
                )
                .await
                .map_err(|e| e.to_string())
        } else {
            runner
                .run_file_async(&path)
                .await
                .map_err(|e| e.display(false).to_string())
        };
        match result {
            Ok(()) => {
                passed += 1;
                println!("ok   {name}");
            }
            Err(e) => {
                failed += 1;
                println!("FAIL {name}\n{e}");
            }
        }
    }
    println!("sqllogictest: {passed} passed, {failed} failed");
    if failed > 0 || passed == 0 {
        std::process::exit(1);
    }
}
