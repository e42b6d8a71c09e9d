//! Fuzzing, proptest style, of what reads untrusted text (the argument parsers: dates, times,
//! zones, presets, formats, sizes) and of the escapers that write it (CXone's CSV, TAB and XML),
//! each round-tripped through a real parser: `csv` for the delimited text, `roxmltree` (which
//! enforces XML 1.0's character rules) for XML.

use std::sync::Arc;

use agent_refusal::export::{ExportFormat, ExportOptions, write_stream};
use agent_refusal::report::{Preset, Zone, parse_date, parse_time};
use arrow::array::{ArrayRef, RecordBatch, StringArray};
use chrono::{NaiveDate, NaiveTime};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use proptest::prelude::*;

/// Text a hostile user might type: anything, or something close to a valid value.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9:+\\-Z ./]{0,12}",
        "[0-9]{1,6}-[0-9]{1,3}-[0-9]{1,3}",
        "[+-]?[0-9]{1,3}:?[0-9]{0,3}",
        "[0-9]{0,25}[KMGTkmgt]?[B]?",
        "[A-Za-z_/+-]{0,30}",
    ]
}

/// Text that stresses escapers: any character, often one of those that need care.
fn text() -> impl Strategy<Value = String> {
    let tricky = prop_oneof![
        any::<char>(),
        prop::char::range('\u{0}', '\u{1F}'),
        prop::sample::select(vec![
            '\u{FFFE}',
            '\u{FFFF}',
            '\u{FFFD}',
            '\u{D7FF}',
            '\u{E000}',
            '\u{10FFFF}',
            '&',
            '<',
            '>',
            '"',
            '\'',
            ',',
            '=',
            '+',
            '-',
            '@',
            ' ',
        ]),
    ];
    prop::collection::vec(tricky, 0..12).prop_map(|chars| chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// No parser panics; every refusal quotes the value it refused.
    #[test]
    fn parsers_never_panic_and_name_what_they_refuse(text in hostile()) {
        let quoted = format!("'{text}'");
        if let Err(e) = parse_date(&text, "start date") {
            prop_assert!(e.to_string().contains(&quoted), "{e}");
        }
        if let Err(e) = parse_time(&text, "end time") {
            prop_assert!(e.to_string().contains(&quoted), "{e}");
        }
        if let Err(e) = Zone::parse(&text) {
            prop_assert!(e.to_string().contains(&quoted), "{e}");
        }
        if let Err(e) = Preset::parse(&text) {
            prop_assert!(e.to_string().contains(&quoted), "{e}");
        }
        if let Err(e) = ExportFormat::parse(&text) {
            prop_assert!(e.to_string().contains(&quoted), "{e}");
        }
        // the CLI's --memory-limit
        let _ = SessionContext::parse_capacity_limit("--memory-limit", &text);
    }

    #[test]
    fn dates_and_times_round_trip(
        days in 0i64..3_000_000,
        h in 0u32..24, m in 0u32..60, s in 0u32..60,
        seconds: bool,
    ) {
        let date = NaiveDate::from_ymd_opt(1000, 1, 1).unwrap() + chrono::Days::new(days as u64);
        prop_assume!(date.format("%Y").to_string().len() == 4);
        prop_assert_eq!(parse_date(&date.format("%Y-%m-%d").to_string(), "d").unwrap(), date);
        let loose = date.format("%Y-%-m-%-d").to_string();
        if loose != date.format("%Y-%m-%d").to_string() {
            prop_assert!(parse_date(&loose, "d").is_err(), "{loose}");
        }
        let time = NaiveTime::from_hms_opt(h, m, if seconds { s } else { 0 }).unwrap();
        let text = time.format(if seconds { "%H:%M:%S" } else { "%H:%M" }).to_string();
        let parsed = parse_time(&format!(" {text} "), "t").unwrap();
        prop_assert_eq!(parsed.time, time);
        prop_assert_eq!(parsed.has_seconds, seconds);
    }

    #[test]
    fn offsets_round_trip(minutes in -(18 * 60)..=(18 * 60i32), colon: bool) {
        let sign = if minutes < 0 { '-' } else { '+' };
        let (h, m) = (minutes.abs() / 60, minutes.abs() % 60);
        let text = if colon { format!("{sign}{h:02}:{m:02}") } else { format!("{sign}{h:02}{m:02}") };
        let Zone::Fixed(offset) = Zone::parse(&text).unwrap() else {
            return Err(TestCaseError::fail(format!("{text} is not an offset")));
        };
        prop_assert_eq!(offset.local_minus_utc(), minutes * 60);
    }

    #[test]
    fn presets_parse_in_any_case_and_spacing(index in 0usize..Preset::ALL.len(), upper: Vec<bool>, sep in "[ _-]") {
        let preset = Preset::ALL[index];
        let text: String = preset
            .name()
            .chars()
            .zip(upper.iter().chain(std::iter::repeat(&false)))
            .map(|(c, up)| if c == ' ' { sep.chars().next().unwrap_or(' ') } else if *up { c.to_ascii_uppercase() } else { c })
            .collect();
        prop_assert_eq!(Preset::parse(&text).unwrap(), preset);
    }

    /// Any text survives CSV and TAB exactly, read back by the `csv` crate; with `excel_safe`,
    /// text that Excel would run gets one leading `'` and nothing else changes.
    #[test]
    fn delimited_text_round_trips(names in prop::collection::vec(text(), 1..20), excel_safe: bool, tab: bool) {
        let format = if tab { ExportFormat::Tab } else { ExportFormat::Csv };
        let out = export(&names, ExportOptions::new(format).with_excel_safe(excel_safe));
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(if tab { b'\t' } else { b',' })
            .from_reader(out.as_slice());
        prop_assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), vec!["name", "n"]);
        let read: Vec<String> = reader
            .records()
            .map(|r| r.unwrap().get(0).unwrap().to_string())
            .collect();
        let expected: Vec<String> = names
            .iter()
            .map(|n| {
                let formula = n.starts_with(['=', '+', '-', '@', '\t', '\r']);
                if excel_safe && formula { format!("'{n}") } else { n.clone() }
            })
            .collect();
        prop_assert_eq!(read, expected);
    }

    /// XML is well-formed for any text: a strict XML 1.0 parser reads it back, holding the text
    /// less the characters XML cannot carry.
    #[test]
    fn xml_is_well_formed_for_any_text(names in prop::collection::vec(text(), 1..20)) {
        let out = export(&names, ExportOptions::new(ExportFormat::Xml));
        let text = String::from_utf8(out).unwrap();
        let document = roxmltree::Document::parse(&text);
        prop_assert!(document.is_ok(), "{:?}: {text:?}", document.err());
        let document = document.unwrap();
        let read: Vec<String> = document
            .descendants()
            .filter(|n| n.has_tag_name("name"))
            .map(|n| n.text().unwrap_or("").to_string())
            .collect();
        let expected: Vec<String> = names.iter().map(|n| n.chars().filter(|c| xml_char(*c)).collect()).collect();
        prop_assert_eq!(read, expected);
    }
}

/// XML 1.0's `Char` production.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// `names` as a result of two columns (`name`, and `n` so that no line is empty), exported with
/// `options`.
fn export(names: &[String], options: ExportOptions) -> Vec<u8> {
    let column: ArrayRef = Arc::new(StringArray::from_iter_values(names));
    let n: ArrayRef = Arc::new(arrow::array::Int64Array::from_iter_values(0..names.len() as i64));
    let batch = RecordBatch::try_from_iter([("name", column), ("n", n)]).unwrap();
    let stream = RecordBatchStreamAdapter::new(batch.schema(), futures::stream::iter([Ok(batch)]));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut out = Vec::new();
    runtime
        .block_on(write_stream(Box::pin(stream), &mut out, options))
        .unwrap();
    out
}
