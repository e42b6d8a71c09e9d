//! Data sources: a folder of data files as tables (`--data DIR`), and the built-in demo data ([`demo`]).

pub mod demo;
pub(crate) mod named;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema};
use datafusion::catalog::TableProvider;
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::listing::{ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::logical_expr::{SortExpr, col};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};

use crate::config::AgentRefusalConfig;

/// A file format that `--data` recognizes by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// `.csv`, with a header row.
    Csv,
    /// `.parquet`.
    Parquet,
    /// `.json`: a JSON array of objects, or one object per line.
    Json,
    /// `.ndjson`: one object per line.
    NdJson,
}

impl DataFormat {
    /// The format of a path, from its extension, in any case (`.csv`, `.CSV`).
    pub fn of(path: &Path) -> Option<DataFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(DataFormat::Csv),
            "parquet" => Some(DataFormat::Parquet),
            "json" => Some(DataFormat::Json),
            "ndjson" | "jsonl" => Some(DataFormat::NdJson),
            _ => None,
        }
    }

    fn extension(self) -> &'static str {
        match self {
            DataFormat::Csv => ".csv",
            DataFormat::Parquet => ".parquet",
            DataFormat::Json => ".json",
            DataFormat::NdJson => ".ndjson",
        }
    }
}

/// A declared sort order of a table's files: `TABLE=COLUMN[,COLUMN...]` (`--order`), like SQL's
/// `CREATE EXTERNAL TABLE ... WITH ORDER (COLUMN ASC, ...)`.
///
/// Each file is sorted by the columns, ascending, nulls last (files may overlap one another:
/// DataFusion merges them). DataFusion trusts the declaration: a wrong one gives a wrongly
/// ordered report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOrder {
    /// The table, as `--data` names it (lower case).
    pub table: String,
    /// The columns, most significant first.
    pub columns: Vec<String>,
}

impl std::str::FromStr for TableOrder {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let (table, columns) = text
            .split_once('=')
            .ok_or_else(|| format!("invalid order '{text}': expected TABLE=COLUMN[,COLUMN...]"))?;
        let table = table.trim().to_lowercase();
        let columns: Vec<String> = columns.split(',').map(|c| c.trim().to_string()).collect();
        if table.is_empty() || columns.iter().any(String::is_empty) {
            return Err(format!(
                "invalid order '{text}': expected TABLE=COLUMN[,COLUMN...]"
            ));
        }
        Ok(TableOrder { table, columns })
    }
}

impl TableOrder {
    fn sort_exprs(&self) -> Vec<Vec<SortExpr>> {
        vec![
            self.columns
                .iter()
                .map(|c| col(datafusion::common::Column::new_unqualified(c)).sort(true, false))
                .collect(),
        ]
    }
}

/// Registers every `NAME.csv`, `NAME.parquet`, `NAME.json`, `NAME.ndjson` file of `dir`, and every
/// folder `NAME/` of such files, as table `NAME`, with the declared sort orders of some of them
/// (`--order`). Extensions are matched in any case (`NAME.CSV`). Returns the registered names,
/// sorted.
pub async fn register_data_dir(
    ctx: &SessionContext,
    dir: &Path,
    orders: &[TableOrder],
) -> Result<Vec<String>> {
    let paths = list_dir(dir, "data folder")?;
    let mut names = Vec::new();
    for path in paths {
        let Some((name, format, files)) = data_table(&path)? else {
            continue;
        };
        if names.contains(&name) {
            return plan_err!(
                "data folder '{}' holds more than one table named '{name}'",
                dir.display()
            );
        }
        let order = orders.iter().find(|o| o.table == name);
        register_files(ctx, &name, &path, &files, format, order).await?;
        names.push(name);
    }
    if let Some(o) = orders.iter().find(|o| !names.contains(&o.table)) {
        return plan_err!(
            "--order names table '{}', which data folder '{}' does not hold (it has: {})",
            o.table,
            dir.display(),
            names.join(", ")
        );
    }
    if names.is_empty() {
        return plan_err!(
            "data folder '{}' holds no .csv, .parquet, .json or .ndjson files or folders of them",
            dir.display()
        );
    }
    Ok(names)
}

/// The entries of a folder, sorted; an error names the folder (`what` says which one it is).
fn list_dir(dir: &Path, what: &str) -> Result<Vec<PathBuf>> {
    let context = |e: std::io::Error| {
        DataFusionError::Context(
            format!("cannot read {what} '{}'", dir.display()),
            Box::new(DataFusionError::IoError(e)),
        )
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(context)? {
        paths.push(entry.map_err(context)?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The table a file or folder of the data folder holds: its name, format and data files; `None`
/// when it holds no data files or is hidden.
fn data_table(path: &Path) -> Result<Option<(String, DataFormat, Vec<PathBuf>)>> {
    let hidden = path
        .file_name()
        .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
    if hidden {
        return Ok(None);
    }
    let (name, format, files) = if path.is_dir() {
        let mut files = Vec::new();
        let mut found: Option<DataFormat> = None;
        for file in list_dir(path, "folder")? {
            let Some(f) = DataFormat::of(&file) else {
                continue;
            };
            let hidden = file
                .file_name()
                .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."));
            if hidden || file.is_dir() {
                continue;
            }
            utf8_name(&file)?;
            match found {
                Some(g) if g != f => {
                    return plan_err!(
                        "folder '{}' mixes {} and {} files; keep one format per table",
                        path.display(),
                        g.extension(),
                        f.extension()
                    );
                }
                _ => found = Some(f),
            }
            files.push(file);
        }
        let Some(format) = found else {
            return Ok(None);
        };
        (path.file_name(), format, files)
    } else {
        let Some(format) = DataFormat::of(path) else {
            return Ok(None);
        };
        (path.file_stem(), format, vec![path.to_path_buf()])
    };
    utf8_name(path)?;
    let name = name.and_then(|n| n.to_str()).map(str::to_lowercase);
    Ok(name.map(|name| (name, format, files)))
}

/// Checks that a data file's or folder's path is UTF-8, as DataFusion's file URLs need.
fn utf8_name(path: &Path) -> Result<&str> {
    let Some(text) = path.to_str() else {
        return plan_err!(
            "the name of '{}' is not valid UTF-8; rename it to read it as a table",
            path.display()
        );
    };
    Ok(text)
}

/// The names of a table's columns in a CSV file's header row.
fn csv_header(file: &Path) -> Result<Vec<String>> {
    let context = |e: DataFusionError| {
        DataFusionError::Context(format!("cannot read '{}'", file.display()), Box::new(e))
    };
    let reader = std::fs::File::open(file).map_err(|e| context(DataFusionError::IoError(e)))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(std::io::BufReader::new(reader));
    let header = reader
        .headers()
        .map_err(|e| context(DataFusionError::External(Box::new(e))))?;
    Ok(header.iter().map(str::to_string).collect())
}

/// Fails on a column that a CSV file's header names twice (DataFusion would report a misleading
/// count of fields).
fn check_csv_header(file: &Path) -> Result<()> {
    let names = csv_header(file)?;
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return plan_err!("'{}': duplicate column {name} in the header row", file.display());
        }
    }
    Ok(())
}

/// The role of table `name` in the report (`refusals`, `contacts`, `agents`), by the session's
/// table-name settings, or `stations`; else `None`.
fn table_role(ctx: &SessionContext, name: &str) -> Option<&'static str> {
    let state = ctx.state();
    let defaults = AgentRefusalConfig::default();
    let config = state
        .config_options()
        .extensions
        .get::<AgentRefusalConfig>()
        .unwrap_or(&defaults);
    [
        (config.refusals_table.as_str(), "refusals"),
        (config.contacts_table.as_str(), "contacts"),
        (config.agents_table.as_str(), "agents"),
        ("stations", "stations"),
    ]
    .into_iter()
    .find(|(table, _)| table.eq_ignore_ascii_case(name))
    .map(|(_, role)| role)
}

/// The schema with a type for each column that CSV inference left `Null` (a header-only file, or
/// a column with no values): the documented type of a report column, else `Utf8`.
///
/// A report column that inference made text although it is documented as a number or a time
/// (its first rows hold a bad value, or a time form inference does not know, such as
/// `2026-03-08T06:59:59Z`) is read with its documented type too: a bad value is then an error that
/// names its file, line and column, and not a failed conversion later in the plan.
fn without_null_columns(schema: &Schema, role: Option<&str>) -> Option<Schema> {
    let documented = |f: &Field| role.and_then(|role| crate::schema::input_column_type(role, f.name()));
    let retyped = |f: &Field| match (f.data_type(), documented(f)) {
        (DataType::Null, t) => Some(t.unwrap_or(DataType::Utf8)),
        (DataType::Utf8, Some(t)) if t != DataType::Utf8 => Some(t),
        _ => None,
    };
    if !schema.fields().iter().any(|f| retyped(f).is_some()) {
        return None;
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match retyped(f) {
            Some(t) => Field::new(f.name(), t, true),
            None => f.as_ref().clone(),
        })
        .collect();
    Some(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Registers one file or folder of `format` as table `name`, with the files' declared sort order.
pub async fn register_path(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    format: DataFormat,
    order: Option<&TableOrder>,
) -> Result<()> {
    let files = if path.is_dir() {
        let mut files = list_dir(path, "folder")?;
        files.retain(|f| DataFormat::of(f) == Some(format) && !f.is_dir());
        files
    } else {
        vec![path.to_path_buf()]
    };
    register_files(ctx, name, path, &files, format, order).await
}

/// Registers `files` (the data files of `path`, a file or folder) as table `name`.
async fn register_files(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    files: &[PathBuf],
    format: DataFormat,
    order: Option<&TableOrder>,
) -> Result<()> {
    let context = |e: DataFusionError| {
        // DataFusion's "Error when processing CSV file ..." names the file a second time.
        let e = match e {
            DataFusionError::Context(what, inner) if what.starts_with("Error when processing") => *inner,
            e => e,
        };
        DataFusionError::Context(
            format!("cannot read table '{name}' from '{}'", path.display()),
            Box::new(e),
        )
    };
    if files.is_empty() {
        return plan_err!("'{}' holds no {} files", path.display(), format.extension());
    }
    let mut urls = Vec::with_capacity(files.len());
    for file in files {
        urls.push(ListingTableUrl::parse(utf8_name(file)?).map_err(context)?);
        if format == DataFormat::Csv {
            check_csv_header(file)?;
        }
    }
    let sort = order.map(TableOrder::sort_exprs).unwrap_or_default();
    let config = ctx.copied_config();
    let table_options = ctx.copied_table_options();
    // The files are listed one by one, so their extensions (in any case) need no filter.
    let options = match format {
        // Each file is read from its start, so that the line numbers in errors are right (and
        // quoted line breaks inside values are read as they are).
        DataFormat::Csv => CsvReadOptions::new()
            .file_extension("")
            .newlines_in_values(true)
            .file_sort_order(sort)
            .to_listing_options(&config, table_options),
        DataFormat::Parquet => ParquetReadOptions::default()
            .file_extension("")
            .file_sort_order(sort)
            .to_listing_options(&config, table_options),
        DataFormat::Json | DataFormat::NdJson => {
            let mut options = JsonReadOptions::default()
                .file_extension("")
                .file_sort_order(sort);
            options.newline_delimited = format == DataFormat::NdJson || !starts_with_array(&files[0]);
            options.to_listing_options(&config, table_options)
        }
    };
    let state = ctx.state();
    let listing = ListingTableConfig::new_with_multi_paths(urls.clone())
        .with_listing_options(options.clone())
        .infer_schema(&state)
        .await
        .map_err(context)?;
    let listing = match (format, listing.file_schema.as_ref()) {
        (DataFormat::Csv, Some(schema)) => match without_null_columns(schema, table_role(ctx, name)) {
            Some(schema) => ListingTableConfig::new_with_multi_paths(urls)
                .with_listing_options(options)
                .with_schema(Arc::new(schema)),
            None => listing,
        },
        _ => listing,
    };
    let table = ListingTable::try_new(listing)
        .map_err(context)?
        .with_cache(ctx.runtime_env().cache_manager.get_file_statistic_cache());
    // Parquet's errors are not about lines, and its scan takes dynamic filters a wrapper would stop.
    let table: Arc<dyn TableProvider> = if format == DataFormat::Parquet {
        Arc::new(table)
    } else {
        let source = if path.is_dir() {
            format!("folder '{}'", path.display())
        } else {
            format!("file '{}'", path.display())
        };
        Arc::new(named::NamedSource::new(Arc::new(table), source))
    };
    ctx.register_table(datafusion::common::TableReference::bare(name), table)?;
    if let Some(order) = order {
        let schema = ctx.table_provider(name).await?.schema();
        if let Some(missing) = order.columns.iter().find(|c| schema.field_with_name(c).is_err()) {
            return plan_err!(
                "--order: table '{name}' has no column '{missing}' (it has: {})",
                crate::schema::column_names(&schema)
            );
        }
    }
    Ok(())
}

/// Whether a JSON file holds a JSON array rather than lines.
fn starts_with_array(file: &Path) -> bool {
    let mut head = [0u8; 512];
    let n = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .unwrap_or(0);
    head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}
