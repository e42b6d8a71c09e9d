//! The SQL behaviour tests in `tests/sqllogictest/*.slt`, run with DataFusion's sqllogictest
//! engine, each file in a fresh session with everything of this crate registered: one test per
//! file (`cargo test slt::dst` runs one).
//!
//! `SLT_COMPLETE=1` rewrites the expected results of the files from the actual ones (review the diff).

use std::path::{Path, PathBuf};

use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_sqllogictest::{DataFusion, df_value_validator, value_normalizer};
use indicatif::ProgressBar;
use sqllogictest::strict_column_validator;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sqllogictest")
}

fn session() -> SessionContext {
    // Two partitions keep plans stable across machines with different core counts.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    agent_refusal::register(&ctx).expect("register");
    ctx
}

async fn run(name: &str) {
    let path = dir().join(format!("{name}.slt"));
    let ctx = session();
    let file_name = PathBuf::from(format!("{name}.slt"));
    let mut runner = sqllogictest::Runner::new(move || {
        let ctx = ctx.clone();
        let file_name = file_name.clone();
        async move { Ok(DataFusion::new(ctx, file_name, ProgressBar::hidden())) }
    });
    runner.with_column_validator(strict_column_validator);
    runner.with_normalizer(value_normalizer);
    runner.with_validator(df_value_validator);
    if std::env::var_os("SLT_COMPLETE").is_some() {
        runner
            .update_test_file(
                &path,
                " ",
                df_value_validator,
                value_normalizer,
                strict_column_validator,
            )
            .await
            .unwrap_or_else(|e| panic!("{name}.slt: {e}"));
    } else if let Err(e) = runner.run_file_async(&path).await {
        panic!("{name}.slt:\n{}", e.display(false));
    }
}

macro_rules! slt_files {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                run(stringify!($name)).await;
            }
        )*

        /// Every `.slt` file has its test above.
        #[test]
        fn every_file_is_run() {
            let listed = [$(stringify!($name)),*];
            let mut missing: Vec<String> = std::fs::read_dir(dir())
                .expect("tests/sqllogictest exists")
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "slt"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
                .filter(|stem| !listed.contains(&stem.as_str()))
                .collect();
            missing.sort();
            assert!(missing.is_empty(), "add these .slt files to slt_files!: {missing:?}");
        }
    };
}

slt_files!(dimensions, dst, errors, order, reasons, sql, types, window);
