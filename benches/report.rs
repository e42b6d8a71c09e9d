//! Criterion benchmarks of the report's building blocks on the demo data set:
//! the reason functions, the report query, and the CXone CSV writer.
//!
//! `cargo bench --bench report`

use std::hint::black_box;

use agent_refusal::export::{ExportFormat, ExportOptions, write_stream};
use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::prelude::SessionContext;

fn session(rt: &tokio::runtime::Runtime, scale: u32) -> SessionContext {
    let ctx = SessionContext::new();
    agent_refusal::register(&ctx).unwrap();
    agent_refusal::sources::demo::register_demo(&ctx, scale).unwrap();
    rt.block_on(ctx.sql("SET agent_refusal.time_zone = 'America/New_York'"))
        .unwrap();
    ctx
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let ctx = session(&rt, 8);
    let run = |sql: &str| rt.block_on(async { ctx.sql(sql).await.unwrap().collect().await.unwrap() });

    c.bench_function("refusal_reason over 48k raw reasons", |b| {
        b.iter(|| black_box(run("SELECT count(DISTINCT refusal_reason(reason)) FROM refusals")));
    });
    c.bench_function("report, six weeks of demo data x8 (48k rows), collect", |b| {
        b.iter(|| black_box(run("SELECT * FROM agent_refusal('2026-02-16', '2026-03-29')")));
    });
    c.bench_function("report, six weeks x8, CXone CSV to memory", |b| {
        b.iter(|| {
            rt.block_on(async {
                let df = ctx
                    .sql("SELECT * FROM agent_refusal('2026-02-16', '2026-03-29')")
                    .await
                    .unwrap();
                let stream = df.execute_stream().await.unwrap();
                let mut out = Vec::with_capacity(4 << 20);
                write_stream(stream, &mut out, ExportOptions::new(ExportFormat::Csv))
                    .await
                    .unwrap();
                black_box(out.len())
            })
        });
    });
}

criterion_group!(report, benches);
criterion_main!(report);
