//! The built-in demo data set: a small, realistic contact center, generated deterministically.
//!
//! Six weeks (2026-02-16 to 2026-03-29) that cross the US switch to daylight saving time on
//! 2026-03-08, with refusals clustered in New York business hours on weekdays, `NoAnswer` the
//! most common reason, a few agents who refuse far more than the rest and one station with
//! telephony trouble (`Bad Number`).

// The generator works in u64 (its random numbers, counts of `scale` times a few thousand) and
// stores i64 ids and offsets; every value is far below 2^53 for any `u32` scale, so its casts
// between them neither wrap nor truncate.
#![allow(
    clippy::cast_possible_wrap,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use arrow::datatypes::{Field, Schema};
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::America::New_York;
use datafusion::catalog::MemTable;
use datafusion::common::{Result, exec_datafusion_err, plan_err};
use datafusion::prelude::SessionContext;

/// First day of the demo data (local, `America/New_York`).
pub const FIRST_DAY: &str = "2026-02-16";
/// Last day of the demo data (local, `America/New_York`).
pub const LAST_DAY: &str = "2026-03-29";

const FIRST_NAMES: [&str; 24] = [
    "Ana", "José", "Li", "Mary", "Olu", "Zoë", "Sam", "Priya", "Tom", "Ngozi", "Björn", "Aiko", "Omar",
    "Ewa", "Raj", "Chloe", "Diego", "Fatima", "Grace", "Hiro", "Ines", "Jamal", "Kara", "Luis",
];
const LAST_NAMES: [&str; 20] = [
    "Smith", "O'Brien", "García", "Nguyen", "Müller", "Kowalski", "Chen", "Okafor", "Rossi", "Haddad",
    "Jensen", "Silva", "Patel", "Kim", "Johnson", "Dubois", "Novak", "Ali", "Brown", "Santos",
];
/// Raw reasons as a telephony platform logs them, with their weights (NoAnswer most common).
const REASON_MIX: [(&str, u32); 13] = [
    ("NoAnswer", 52),
    ("Busy", 11),
    ("Dropped", 8),
    ("Invalid Call Leg", 6),
    ("LinkFailed", 5),
    ("AgentLinkTimeout", 4),
    ("Bad Number", 3),
    ("ContactAlreadyRouted", 4),
    ("Error", 2),
    ("NA", 1),
    ("0", 1),
    ("no answer", 2),
    ("NO_ANSWER", 1),
];
const TEAMS: [&str; 4] = ["Billing", "Support", "Sales", "Retention"];

/// A small deterministic generator (`SplitMix64`).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A normal sample (Box-Muller).
    fn normal(&mut self, mean: f64, sd: f64) -> f64 {
        let (u1, u2) = (self.unit().max(1e-12), self.unit());
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    fn weighted<'a>(&mut self, items: &'a [(&'a str, u32)]) -> &'a str {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        items[0].0
    }
}

/// The demo tables, by name: `agents`, `stations`, `contacts`, `refusals`.
///
/// `scale` multiplies the number of agents, stations, contacts and refusals (scale 1: 60 agents,
/// 40 stations, about 6,000 refusals and 24,000 contacts).
#[allow(clippy::too_many_lines)] // one table after another, each a short block
pub fn demo_tables(scale: u32) -> Result<Vec<(&'static str, RecordBatch)>> {
    if scale == 0 {
        return plan_err!("demo data: the scale must be at least 1, got 0");
    }
    let scale = u64::from(scale);
    let mut rng = Rng(0x5EED_A6E7 + scale);
    let n_agents = 60 * scale;
    let n_stations = 40 * scale;

    // agents: a few have only a first name; a few names carry an apostrophe or accents.
    let agent_ids: Vec<i64> = (0..n_agents as i64).map(|i| 1001 + i).collect();
    let mut first = Vec::new();
    let mut last = Vec::new();
    for i in 0..n_agents {
        first.push(Some(FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize]));
        last.push(if i % 29 == 7 {
            None
        } else {
            Some(LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize])
        });
    }
    let teams: Vec<&str> = (0..n_agents).map(|i| TEAMS[(i % 4) as usize]).collect();
    let agents = batch(vec![
        (
            "agent_id",
            Arc::new(Int64Array::from(agent_ids.clone())) as ArrayRef,
            false,
        ),
        ("first_name", Arc::new(StringArray::from(first)), true),
        ("last_name", Arc::new(StringArray::from(last)), true),
        ("team", Arc::new(StringArray::from(teams)), false),
    ])?;

    let station_ids: Vec<i64> = (0..n_stations as i64).map(|i| 5001 + i).collect();
    let phones: Vec<String> = (0..n_stations)
        .map(|i| format!("+1-555-01{:02}-{:04}", i % 100, 1000 + i))
        .collect();
    let stations = batch(vec![
        (
            "station_id",
            Arc::new(Int64Array::from(station_ids.clone())) as ArrayRef,
            false,
        ),
        ("phone", Arc::new(StringArray::from(phones)), false),
    ])?;

    // Each agent works at one home station; agents 3 and 17 refuse far more than the rest.
    let home: Vec<i64> = (0..n_agents)
        .map(|i| station_ids[(i % n_stations) as usize])
        .collect();
    let weight = |i: u64| if i % 60 == 3 || i % 60 == 17 { 12 } else { 1 };
    let weights: Vec<u64> = (0..n_agents).map(weight).collect();
    let total_weight: u64 = weights.iter().sum();
    let trouble_station = station_ids[(11 % n_stations) as usize];

    // Refusal times: weekdays, New York business hours (peak early afternoon), over six weeks.
    let start = NaiveDate::parse_from_str(FIRST_DAY, "%Y-%m-%d").map_err(|e| exec_datafusion_err!("{e}"))?;
    let days = 42;
    let n_refusals = 6_000 * scale;
    let mut events: Vec<(i64, i64, Option<i64>, &str)> = Vec::with_capacity(n_refusals as usize);
    while events.len() < n_refusals as usize {
        let day = start + chrono::Days::new(rng.below(days));
        let weekend = matches!(day.weekday(), Weekday::Sat | Weekday::Sun);
        if weekend && rng.below(5) != 0 {
            continue;
        }
        let hours = rng.normal(13.0, 3.0);
        if !(6.0..23.0).contains(&hours) {
            continue;
        }
        let secs = (hours * 3600.0) as u32;
        let local = day
            .and_hms_opt(secs / 3600, (secs / 60) % 60, secs % 60)
            .unwrap_or_default();
        // Skip the nonexistent spring-forward hour; take the first of a repeated one.
        let Some(at) = New_York.from_local_datetime(&local).earliest() else {
            continue;
        };
        let mut pick = rng.below(total_weight);
        let mut agent = 0;
        while pick >= weights[agent] {
            pick -= weights[agent];
            agent += 1;
        }
        let mut station = Some(home[agent]);
        let mut reason = rng.weighted(&REASON_MIX);
        if rng.below(20) == 0 {
            station = None;
        } else if rng.below(40) == 0 {
            station = Some(trouble_station);
        }
        if station == Some(trouble_station) && rng.below(3) != 0 {
            reason = "Bad Number";
        }
        events.push((
            at.timestamp() * 1_000_000 + rng.below(1_000) as i64 * 1_000,
            agent_ids[agent],
            station,
            reason,
        ));
    }
    events.sort_by_key(|e| e.0);

    // Contacts: four per refusal; refused contacts are spread among them, in time order.
    let n_contacts = 4 * n_refusals;
    let first_contact = 700_000_000i64;
    let mut contact_agent = Vec::with_capacity(n_contacts as usize);
    for _ in 0..n_contacts {
        contact_agent.push(if rng.below(33) == 0 {
            None
        } else {
            Some(agent_ids[rng.below(n_agents) as usize])
        });
    }
    let contact_start: Vec<i64> = (0..n_contacts)
        .map(|i| events[(i / 4) as usize].0 - 60_000_000 * (1 + (i % 4) as i64))
        .collect();
    let mut refused = Vec::with_capacity(n_refusals as usize);
    for (i, e) in events.iter().enumerate() {
        let contact = first_contact + 4 * i as i64 + rng.below(4) as i64;
        // One contact in six is last handled by the agent who refused it.
        if rng.below(6) == 0 {
            contact_agent[(contact - first_contact) as usize] = Some(e.1);
        }
        refused.push(contact);
    }
    let contacts = batch(vec![
        (
            "contact_id",
            Arc::new(Int64Array::from_iter_values(
                (0..n_contacts as i64).map(|i| first_contact + i),
            )) as ArrayRef,
            false,
        ),
        ("agent_id", Arc::new(Int64Array::from(contact_agent)), true),
        (
            "skill",
            Arc::new(StringArray::from_iter_values(
                (0..n_contacts).map(|i| TEAMS[(i % 4) as usize]),
            )),
            false,
        ),
        (
            "start_time",
            Arc::new(TimestampMicrosecondArray::from(contact_start).with_timezone("UTC")),
            false,
        ),
    ])?;

    let refusals = batch(vec![
        (
            "contact_id",
            Arc::new(Int64Array::from(refused)) as ArrayRef,
            false,
        ),
        (
            "agent_id",
            Arc::new(Int64Array::from_iter_values(events.iter().map(|e| e.1))),
            false,
        ),
        (
            "station_id",
            Arc::new(events.iter().map(|e| e.2).collect::<Int64Array>()),
            true,
        ),
        (
            "reason",
            Arc::new(StringArray::from_iter_values(events.iter().map(|e| e.3))),
            false,
        ),
        (
            "refuse_time",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(events.iter().map(|e| e.0)).with_timezone("UTC"),
            ),
            false,
        ),
    ])?;
    Ok(vec![
        ("agents", agents),
        ("stations", stations),
        ("contacts", contacts),
        ("refusals", refusals),
    ])
}

fn batch(columns: Vec<(&str, ArrayRef, bool)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(n, a, null)| Field::new(*n, a.data_type().clone(), *null))
        .collect();
    let arrays = columns.into_iter().map(|(_, a, _)| a).collect();
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}

/// Registers the demo tables (`agents`, `stations`, `contacts`, `refusals`) on `ctx`.
pub fn register_demo(ctx: &SessionContext, scale: u32) -> Result<()> {
    for (name, batch) in demo_tables(scale)? {
        let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
        ctx.register_table(name, Arc::new(table))?;
    }
    Ok(())
}

/// A file format of the written demo data set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoFormat {
    /// One Parquet file per table.
    Parquet,
    /// One CSV file per table, with a header row and RFC 3339 timestamps.
    Csv,
}

/// Writes the demo tables to `dir` as `NAME.parquet` or `NAME.csv`, creating `dir` if needed.
pub fn write_demo(dir: &Path, scale: u32, format: DemoFormat) -> Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|e| exec_datafusion_err!("cannot create {}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for (name, batch) in demo_tables(scale)? {
        let ext = match format {
            DemoFormat::Parquet => "parquet",
            DemoFormat::Csv => "csv",
        };
        let path = dir.join(format!("{name}.{ext}"));
        let file = std::fs::File::create(&path)
            .map_err(|e| exec_datafusion_err!("cannot create {}: {e}", path.display()))?;
        match format {
            DemoFormat::Parquet => {
                let mut w = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), None)?;
                w.write(&batch)?;
                w.close()?;
            }
            DemoFormat::Csv => {
                let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(file);
                w.write(&batch)?;
            }
        }
        written.push(path);
    }
    Ok(written)
}
