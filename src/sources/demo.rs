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
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use chrono_tz::America::New_York;
use datafusion::catalog::MemTable;
use datafusion::common::{DataFusionError, Result, exec_datafusion_err, plan_err};
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
#[derive(Clone)]
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
/// 40 stations, about 6,000 refusals and 24,000 contacts). The tables are held in memory: write
/// large scales with [`write_demo`], which streams them.
pub fn demo_tables(scale: u32) -> Result<Vec<(&'static str, RecordBatch)>> {
    let mut parts: [Vec<RecordBatch>; 4] = Default::default();
    generate(scale, MAX_EVENTS_IN_MEMORY, &mut |table, batch| {
        parts[table as usize].push(batch);
        Ok(())
    })?;
    let mut tables = Vec::with_capacity(4);
    for (table, batches) in Table::ALL.into_iter().zip(parts) {
        let schema = table.schema();
        tables.push((table.name(), arrow::compute::concat_batches(&schema, &batches)?));
    }
    Ok(tables)
}

/// The most refusal events the generator holds at once (to sort them by time); beyond that it
/// generates the data in time slices, replaying its random numbers once per slice.
const MAX_EVENTS_IN_MEMORY: usize = 1 << 20;
/// Rows of events per written batch.
const BATCH_EVENTS: usize = 8192;

/// A demo table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Table {
    Agents,
    Stations,
    Contacts,
    Refusals,
}

impl Table {
    const ALL: [Table; 4] = [Table::Agents, Table::Stations, Table::Contacts, Table::Refusals];

    fn name(self) -> &'static str {
        match self {
            Table::Agents => "agents",
            Table::Stations => "stations",
            Table::Contacts => "contacts",
            Table::Refusals => "refusals",
        }
    }

    fn schema(self) -> SchemaRef {
        let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        let fields = match self {
            Table::Agents => vec![
                Field::new("agent_id", DataType::Int64, false),
                Field::new("first_name", DataType::Utf8, true),
                Field::new("last_name", DataType::Utf8, true),
                Field::new("team", DataType::Utf8, false),
            ],
            Table::Stations => vec![
                Field::new("station_id", DataType::Int64, false),
                Field::new("phone", DataType::Utf8, false),
            ],
            Table::Contacts => vec![
                Field::new("contact_id", DataType::Int64, false),
                Field::new("agent_id", DataType::Int64, true),
                Field::new("skill", DataType::Utf8, false),
                Field::new("start_time", utc(), false),
            ],
            Table::Refusals => vec![
                Field::new("contact_id", DataType::Int64, false),
                Field::new("agent_id", DataType::Int64, false),
                Field::new("station_id", DataType::Int64, true),
                Field::new("reason", DataType::Utf8, false),
                Field::new("refuse_time", utc(), false),
            ],
        };
        Arc::new(Schema::new(fields))
    }
}

/// One refusal event: its time (microseconds since the epoch), agent, station and raw reason.
#[derive(Debug, Clone, Copy)]
struct Event {
    at: i64,
    agent: i64,
    station: Option<i64>,
    reason: &'static str,
}

/// The sizes of a scale's data set.
#[derive(Debug, Clone, Copy)]
struct Sizes {
    agents: u64,
    stations: u64,
    refusals: u64,
}

impl Sizes {
    fn agent_id(i: u64) -> i64 {
        1001 + i as i64
    }
    fn station_id(i: u64) -> i64 {
        5001 + i as i64
    }
    /// Agent `i`'s home station.
    fn home(self, agent: u64) -> i64 {
        Self::station_id(agent % self.stations)
    }
    /// Agents 3 and 17 of each 60 refuse 12 times as often as the rest: 82 shares per 60 agents.
    fn total_weight(self) -> u64 {
        self.agents / 60 * 82
    }
    /// The agent whose share holds `pick` (below [`Sizes::total_weight`]).
    fn agent_at(pick: u64) -> u64 {
        let (block, r) = (pick / 82, pick % 82);
        let i = match r {
            0..3 => r,
            3..15 => 3,
            15..28 => 4 + (r - 15),
            28..40 => 17,
            _ => 18 + (r - 40),
        };
        block * 60 + i
    }
}

/// Generates the demo data set of `scale`, giving each table's batches to `sink` in order: all of
/// `agents`, all of `stations`, then `contacts` and `refusals` interleaved. Holds at most
/// `max_events` refusal events at once; returns the most it held.
fn generate(
    scale: u32,
    max_events: usize,
    sink: &mut dyn FnMut(Table, RecordBatch) -> Result<()>,
) -> Result<usize> {
    if scale == 0 {
        return plan_err!("demo data: the scale must be at least 1, got 0");
    }
    let scale = u64::from(scale);
    let sizes = Sizes {
        agents: 60 * scale,
        stations: 40 * scale,
        refusals: 6_000 * scale,
    };
    let mut rng = Rng(0x5EED_A6E7 + scale);

    // agents: a few have only a first name; a few names carry an apostrophe or accents.
    for lo in (0..sizes.agents).step_by(BATCH_EVENTS) {
        let hi = (lo + BATCH_EVENTS as u64).min(sizes.agents);
        let mut first = Vec::new();
        let mut last = Vec::new();
        for i in lo..hi {
            first.push(Some(FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize]));
            last.push(if i % 29 == 7 {
                None
            } else {
                Some(LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize])
            });
        }
        sink(
            Table::Agents,
            RecordBatch::try_new(
                Table::Agents.schema(),
                vec![
                    Arc::new(Int64Array::from_iter_values((lo..hi).map(Sizes::agent_id))),
                    Arc::new(StringArray::from(first)),
                    Arc::new(StringArray::from(last)),
                    Arc::new(StringArray::from_iter_values(
                        (lo..hi).map(|i| TEAMS[(i % 4) as usize]),
                    )),
                ],
            )?,
        )?;
    }

    for lo in (0..sizes.stations).step_by(BATCH_EVENTS) {
        let hi = (lo + BATCH_EVENTS as u64).min(sizes.stations);
        sink(
            Table::Stations,
            RecordBatch::try_new(
                Table::Stations.schema(),
                vec![
                    Arc::new(Int64Array::from_iter_values((lo..hi).map(Sizes::station_id))),
                    Arc::new(StringArray::from_iter_values(
                        (lo..hi).map(|i| format!("+1-555-01{:02}-{:04}", i % 100, 1000 + i)),
                    )),
                ],
            )?,
        )?;
    }

    // The events in time order: count them by minute, then generate them slice by slice of
    // minutes, each slice sorted (stably, as one sort of them all would order them).
    let start = NaiveDate::parse_from_str(FIRST_DAY, "%Y-%m-%d").map_err(|e| exec_datafusion_err!("{e}"))?;
    let first_minute = start.and_time(chrono::NaiveTime::MIN).and_utc().timestamp() / 60;
    let minutes = 44 * 24 * 60;
    let minute_of = |at: i64| ((at / 60_000_000 - first_minute).clamp(0, minutes - 1)) as usize;
    let after_agents = rng.clone();
    let mut per_minute = vec![0usize; minutes as usize];
    let after_events = events(sizes, start, after_agents.clone(), |e| {
        per_minute[minute_of(e.at)] += 1;
    });
    let mut slices: Vec<(usize, usize)> = Vec::new();
    let mut slice_start = 0;
    let mut held = 0;
    for (minute, &n) in per_minute.iter().enumerate() {
        if held > 0 && held + n > max_events {
            slices.push((slice_start, minute));
            slice_start = minute;
            held = 0;
        }
        held += n;
    }
    slices.push((slice_start, per_minute.len()));

    // Contacts: four per refusal; refused contacts are spread among them, in time order. Their
    // last agents are drawn first, then the refused one of each four.
    let mut agents_rng = after_events;
    let mut refused_rng = agents_rng.clone();
    for _ in 0..4 * sizes.refusals {
        if refused_rng.below(33) != 0 {
            refused_rng.below(sizes.agents);
        }
    }
    let mut out = Output::default();
    let mut most_held = 0;
    for (lo, hi) in slices {
        let mut slice = Vec::new();
        events(sizes, start, after_agents.clone(), |e| {
            if (lo..hi).contains(&minute_of(e.at)) {
                slice.push(e);
            }
        });
        most_held = most_held.max(slice.len());
        slice.sort_by_key(|e| e.at);
        for e in slice {
            out.push(e, sizes, &mut agents_rng, &mut refused_rng);
            if out.events == BATCH_EVENTS {
                out.flush(sink)?;
            }
        }
    }
    out.flush(sink)?;
    Ok(most_held)
}

/// Replays the refusal events from `rng` (the generator after the agents), in the order they are
/// drawn; returns the generator after them.
fn events(sizes: Sizes, start: NaiveDate, mut rng: Rng, mut each: impl FnMut(Event)) -> Rng {
    // Refusal times: weekdays, New York business hours (peak early afternoon), over six weeks.
    let days = 42;
    let total_weight = sizes.total_weight();
    let trouble_station = Sizes::station_id(11 % sizes.stations);
    let mut made = 0;
    while made < sizes.refusals {
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
        let agent = Sizes::agent_at(rng.below(total_weight));
        let mut station = Some(sizes.home(agent));
        let mut reason = rng.weighted(&REASON_MIX);
        if rng.below(20) == 0 {
            station = None;
        } else if rng.below(40) == 0 {
            station = Some(trouble_station);
        }
        if station == Some(trouble_station) && rng.below(3) != 0 {
            reason = "Bad Number";
        }
        each(Event {
            at: at.timestamp() * 1_000_000 + rng.below(1_000) as i64 * 1_000,
            agent: Sizes::agent_id(agent),
            station,
            reason,
        });
        made += 1;
    }
    rng
}

/// The rows of `contacts` and `refusals` not yet given to the sink.
#[derive(Default)]
struct Output {
    /// Events made so far, before this batch.
    done: u64,
    /// Events in this batch.
    events: usize,
    contact_agent: Vec<Option<i64>>,
    contact_start: Vec<i64>,
    refused: Vec<i64>,
    agent: Vec<i64>,
    station: Vec<Option<i64>>,
    reason: Vec<&'static str>,
    at: Vec<i64>,
}

const FIRST_CONTACT: i64 = 700_000_000;

impl Output {
    /// Adds the next event in time order and its four contacts.
    fn push(&mut self, e: Event, sizes: Sizes, agents_rng: &mut Rng, refused_rng: &mut Rng) {
        let i = self.done + self.events as u64;
        let first = self.contact_agent.len();
        for k in 0..4 {
            self.contact_agent.push(if agents_rng.below(33) == 0 {
                None
            } else {
                Some(Sizes::agent_id(agents_rng.below(sizes.agents)))
            });
            self.contact_start.push(e.at - 60_000_000 * (1 + k));
        }
        let pick = refused_rng.below(4);
        let contact = FIRST_CONTACT + 4 * i as i64 + pick as i64;
        // One contact in six is last handled by the agent who refused it.
        if refused_rng.below(6) == 0 {
            self.contact_agent[first + pick as usize] = Some(e.agent);
        }
        self.refused.push(contact);
        self.agent.push(e.agent);
        self.station.push(e.station);
        self.reason.push(e.reason);
        self.at.push(e.at);
        self.events += 1;
    }

    /// Gives the rows to `sink` as a batch of each table.
    fn flush(&mut self, sink: &mut dyn FnMut(Table, RecordBatch) -> Result<()>) -> Result<()> {
        if self.events == 0 {
            return Ok(());
        }
        let first = FIRST_CONTACT + 4 * self.done as i64;
        let n_contacts = 4 * self.events as i64;
        let contacts = RecordBatch::try_new(
            Table::Contacts.schema(),
            vec![
                Arc::new(Int64Array::from_iter_values(first..first + n_contacts)) as ArrayRef,
                Arc::new(Int64Array::from(std::mem::take(&mut self.contact_agent))),
                Arc::new(StringArray::from_iter_values(
                    (0..n_contacts).map(|j| TEAMS[(j % 4) as usize]),
                )),
                Arc::new(
                    TimestampMicrosecondArray::from(std::mem::take(&mut self.contact_start))
                        .with_timezone("UTC"),
                ),
            ],
        )?;
        let refusals = RecordBatch::try_new(
            Table::Refusals.schema(),
            vec![
                Arc::new(Int64Array::from(std::mem::take(&mut self.refused))) as ArrayRef,
                Arc::new(Int64Array::from(std::mem::take(&mut self.agent))),
                Arc::new(Int64Array::from(std::mem::take(&mut self.station))),
                Arc::new(StringArray::from(std::mem::take(&mut self.reason))),
                Arc::new(TimestampMicrosecondArray::from(std::mem::take(&mut self.at)).with_timezone("UTC")),
            ],
        )?;
        self.done += self.events as u64;
        self.events = 0;
        sink(Table::Contacts, contacts)?;
        sink(Table::Refusals, refusals)
    }
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
///
/// The data is written as it is generated: memory does not grow with `scale`. Before writing,
/// the size of the data set is estimated from the size of scale 1, and a scale that would not
/// fit in the free space of `dir`'s file system is refused.
pub fn write_demo(dir: &Path, scale: u32, format: DemoFormat) -> Result<Vec<std::path::PathBuf>> {
    check_space(dir, scale, format)?;
    std::fs::create_dir_all(dir).map_err(|e| io_error(format!("cannot create '{}'", dir.display()), e))?;
    let ext = match format {
        DemoFormat::Parquet => "parquet",
        DemoFormat::Csv => "csv",
    };
    // Each file is written beside its target and put in place at the end, as exports are: an
    // error or a signal leaves an existing data set as it was.
    let mut paths = Vec::new();
    let mut partials = Vec::new();
    let mut writers = Vec::new();
    for table in Table::ALL {
        let path = dir.join(format!("{}.{ext}", table.name()));
        let partial = crate::export::PartialFile::beside(&path)?;
        let file = partial
            .file
            .as_file()
            .try_clone()
            .map_err(|e| io_error(format!("cannot create '{}'", path.display()), e))?;
        writers.push(TableWriter::new(std::io::BufWriter::new(file), table, format)?);
        partials.push(partial);
        paths.push(path);
    }
    generate(scale, MAX_EVENTS_IN_MEMORY, &mut |table, batch| {
        writers[table as usize].write(&batch)
    })?;
    for writer in writers {
        use std::io::Write;
        writer.finish()?.flush()?;
    }
    for (partial, path) in partials.into_iter().zip(&paths) {
        partial
            .file
            .persist(path)
            .map_err(|e| io_error(format!("cannot write '{}'", path.display()), e.error))?;
    }
    Ok(paths)
}

fn io_error(context: String, e: std::io::Error) -> DataFusionError {
    DataFusionError::Context(context, Box::new(DataFusionError::IoError(e)))
}

/// A writer of one demo table's file.
enum TableWriter<W: std::io::Write + Send> {
    Parquet(parquet::arrow::ArrowWriter<W>),
    Csv(arrow::csv::Writer<W>),
}

impl<W: std::io::Write + Send> TableWriter<W> {
    fn new(out: W, table: Table, format: DemoFormat) -> Result<Self> {
        Ok(match format {
            DemoFormat::Parquet => {
                TableWriter::Parquet(parquet::arrow::ArrowWriter::try_new(out, table.schema(), None)?)
            }
            DemoFormat::Csv => {
                TableWriter::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(out))
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            TableWriter::Parquet(w) => w.write(batch)?,
            TableWriter::Csv(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> Result<W> {
        Ok(match self {
            TableWriter::Parquet(w) => w.into_inner()?,
            TableWriter::Csv(w) => w.into_inner(),
        })
    }
}

/// A writer that only counts the bytes written to it.
#[derive(Default)]
struct Counter(u64);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The bytes of the demo data set of scale 1 in `format`, as written.
fn scale_one_bytes(format: DemoFormat) -> Result<u64> {
    let mut writers = Vec::new();
    for table in Table::ALL {
        writers.push(TableWriter::new(Counter::default(), table, format)?);
    }
    generate(1, MAX_EVENTS_IN_MEMORY, &mut |table, batch| {
        writers[table as usize].write(&batch)
    })?;
    let mut bytes = 0;
    for writer in writers {
        bytes += writer.finish()?.0;
    }
    Ok(bytes)
}

/// Refuses a scale whose data set (estimated as `scale` times that of scale 1) would not fit in
/// the free space at `dir` (or its nearest existing parent folder).
fn check_space(dir: &Path, scale: u32, format: DemoFormat) -> Result<()> {
    if scale == 0 {
        return plan_err!("demo data: the scale must be at least 1, got 0");
    }
    let Some(free) = free_bytes(dir) else {
        return Ok(());
    };
    let estimate = scale_one_bytes(format)?.saturating_mul(u64::from(scale));
    if estimate > free {
        return plan_err!(
            "demo data: scale {scale} would write about {}, but '{}' has {} free; choose a smaller --scale",
            human_bytes(estimate),
            dir.display(),
            human_bytes(free)
        );
    }
    Ok(())
}

/// The bytes free for an unprivileged user on the file system of `dir` (or of its nearest
/// existing parent folder); `None` when that is unknown.
fn free_bytes(dir: &Path) -> Option<u64> {
    let absolute = std::path::absolute(dir).ok()?;
    let existing = absolute.ancestors().find(|p| p.exists())?;
    let stats = nix::sys::statvfs::statvfs(existing).ok()?;
    #[allow(clippy::useless_conversion)] // the field types differ between platforms
    Some(u64::from(stats.blocks_available()).saturating_mul(u64::from(stats.fragment_size())))
}

/// `1.4 GB`, `950.0 MB`: bytes in powers of 1000, as disk sizes are given.
fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["bytes", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The data of `scale` as CSV text per table, generated holding at most `max_events`.
    fn csv_of(scale: u32, max_events: usize) -> (Vec<String>, usize) {
        let mut writers: Vec<TableWriter<Vec<u8>>> = Table::ALL
            .into_iter()
            .map(|t| TableWriter::new(Vec::new(), t, DemoFormat::Csv).unwrap())
            .collect();
        let held = generate(scale, max_events, &mut |table, batch| {
            writers[table as usize].write(&batch)
        })
        .unwrap();
        let texts = writers
            .into_iter()
            .map(|w| String::from_utf8(w.finish().unwrap()).unwrap())
            .collect();
        (texts, held)
    }

    #[test]
    fn slices_of_events_give_the_same_data_as_one_sort_of_them_all() {
        let (whole, held_whole) = csv_of(2, usize::MAX);
        assert_eq!(held_whole, 12_000);
        let (sliced, held) = csv_of(2, 500);
        assert!(held <= 500, "held {held} events");
        assert_eq!(whole, sliced);
        // four per refusal, one header line
        assert_eq!(whole[2].lines().count(), 4 * 12_000 + 1);
    }

    #[test]
    fn the_estimate_is_checked_against_free_space() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("demo");
        let e = write_demo(&target, u32::MAX, DemoFormat::Csv).unwrap_err();
        let message = e.to_string();
        assert!(message.contains(&format!("scale {}", u32::MAX)), "{message}");
        assert!(message.contains("PB") && message.contains("free"), "{message}");
        assert!(!target.exists());
        let bytes = scale_one_bytes(DemoFormat::Csv).unwrap();
        assert!((1_000_000..2_000_000).contains(&bytes), "{bytes}");
        assert_eq!(human_bytes(1_482_756), "1.5 MB");
        assert_eq!(human_bytes(999), "999 bytes");
    }
}
