//! Data sources: a folder of data files as tables (`--data DIR`), and the built-in demo data ([`demo`]).

pub mod demo;

use std::io::Read;
use std::path::{Path, PathBuf};

use datafusion::common::{Result, plan_datafusion_err, plan_err};
use datafusion::logical_expr::{SortExpr, col};
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionContext};

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
    /// The format of a path, from its extension.
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
/// (`--order`). Returns the registered names, sorted.
pub async fn register_data_dir(
    ctx: &SessionContext,
    dir: &Path,
    orders: &[TableOrder],
) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| plan_datafusion_err!("cannot read data folder '{}': {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut names = Vec::new();
    for path in paths {
        let Some(name) = table_name(&path) else { continue };
        let format = if path.is_dir() {
            match folder_format(&path)? {
                Some(f) => f,
                None => continue,
            }
        } else {
            match DataFormat::of(&path) {
                Some(f) => f,
                None => continue,
            }
        };
        if names.contains(&name) {
            return plan_err!(
                "data folder '{}' holds more than one table named '{name}'",
                dir.display()
            );
        }
        let order = orders.iter().find(|o| o.table == name);
        register_path(ctx, &name, &path, format, order).await?;
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

/// The table name of a file (its stem) or folder (its name), lower-cased as SQL identifiers are.
fn table_name(path: &Path) -> Option<String> {
    let name = if path.is_dir() {
        path.file_name()?
    } else {
        path.file_stem()?
    };
    let name = name.to_str()?;
    (!name.starts_with('.')).then(|| name.to_lowercase())
}

/// The one format of the data files in a folder, or `None` if it holds none.
fn folder_format(dir: &Path) -> Result<Option<DataFormat>> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| plan_datafusion_err!("cannot read folder '{}': {e}", dir.display()))?;
    let mut found: Option<DataFormat> = None;
    for entry in entries.flatten() {
        let Some(f) = DataFormat::of(&entry.path()) else {
            continue;
        };
        match found {
            Some(g) if g != f => {
                return plan_err!(
                    "folder '{}' mixes {} and {} files; keep one format per table",
                    dir.display(),
                    g.extension(),
                    f.extension()
                );
            }
            _ => found = Some(f),
        }
    }
    Ok(found)
}

/// Registers one file or folder of `format` as table `name`, with the files' declared sort order.
pub async fn register_path(
    ctx: &SessionContext,
    name: &str,
    path: &Path,
    format: DataFormat,
    order: Option<&TableOrder>,
) -> Result<()> {
    let sort = order.map(TableOrder::sort_exprs).unwrap_or_default();
    let mut location = path.to_string_lossy().into_owned();
    if path.is_dir() && !location.ends_with('/') {
        location.push('/');
    }
    let table = datafusion::common::TableReference::bare(name);
    let ext = format.extension();
    match format {
        DataFormat::Csv => {
            let options = CsvReadOptions::new().file_extension(ext).file_sort_order(sort);
            ctx.register_csv(table, &location, options).await
        }
        DataFormat::Parquet => {
            ctx.register_parquet(
                table,
                &location,
                ParquetReadOptions::default()
                    .file_extension(ext)
                    .file_sort_order(sort),
            )
            .await
        }
        DataFormat::Json | DataFormat::NdJson => {
            let mut options = JsonReadOptions::default()
                .file_extension(ext)
                .file_sort_order(sort);
            options.newline_delimited = format == DataFormat::NdJson || !starts_with_array(path);
            ctx.register_json(table, &location, options).await
        }
    }
    .map_err(|e| plan_datafusion_err!("cannot read table '{name}' from '{}': {e}", path.display()))?;
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

/// Whether a JSON file (or the first file of a folder) holds a JSON array rather than lines.
fn starts_with_array(path: &Path) -> bool {
    let file = if path.is_dir() {
        std::fs::read_dir(path).ok().and_then(|mut entries| {
            entries.find_map(|e| e.ok().map(|e| e.path()).filter(|p| DataFormat::of(p).is_some()))
        })
    } else {
        Some(path.to_path_buf())
    };
    let mut head = [0u8; 512];
    let n = file
        .and_then(|f| std::fs::File::open(f).ok())
        .and_then(|mut f| f.read(&mut head).ok())
        .unwrap_or(0);
    head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
}
