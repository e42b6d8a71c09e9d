//! Where an export goes: what the output path is on disk decides how it is written.
//!
//! | The path is                     | The export                                                   |
//! |---------------------------------|--------------------------------------------------------------|
//! | missing, or a regular file      | is written to a temporary file beside it, then renamed over it (atomic; an existing file keeps its mode and, where permitted, its owner) |
//! | a symbolic link                 | follows the link (all of them), and treats its target so     |
//! | a device, FIFO or socket        | is written through, as any Unix tool does (`/dev/null`, a named pipe); `/dev/full` fails with "No space left on device" |
//! | `/dev/stdout`, `/dev/fd/N`      | is written through, whatever the descriptor is (a pipe, a terminal, a file the shell opened) |
//! | a folder                        | is refused                                                   |
//! | a file of a registered table    | is refused ([`refuse_inputs`]): an export never overwrites its own input |

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use datafusion::catalog::{CatalogProviderList, TableProvider};
use datafusion::common::{DataFusionError, Result, plan_err};
use datafusion::datasource::listing::ListingTable;

use crate::sources::named::NamedSource;

/// An output path, resolved.
#[derive(Debug)]
pub(crate) enum Target {
    /// A regular file (that may not exist yet): replaced atomically. `existing` is its metadata.
    Replace {
        path: PathBuf,
        existing: Option<Metadata>,
    },
    /// A device, FIFO, socket or one of the process's descriptors: written through.
    Through(Sink),
}

/// What an export is written through.
#[derive(Debug, Clone)]
pub(crate) enum Sink {
    /// The process's standard output, by any of its names (`/dev/stdout`, `/dev/fd/1`).
    Stdout,
    /// The process's standard error, likewise.
    Stderr,
    /// A device, FIFO, socket or other descriptor, opened by its path.
    Path(PathBuf),
}

impl Sink {
    /// Opens the sink for writing. The standard streams are duplicated: they keep what the shell
    /// made them (a file opened with `>>`, its offset, a socket). A path is opened for
    /// appending, so that a file behind `/dev/fd/N` is not overwritten from its start. Opening a
    /// FIFO waits for its reader.
    pub(crate) fn open(&self) -> std::io::Result<std::fs::File> {
        use std::os::fd::AsFd;
        match self {
            Sink::Stdout => Ok(std::io::stdout().as_fd().try_clone_to_owned()?.into()),
            Sink::Stderr => Ok(std::io::stderr().as_fd().try_clone_to_owned()?.into()),
            Sink::Path(path) => std::fs::OpenOptions::new().append(true).open(path),
        }
    }

    /// The sink that `path` names if it is one of the process's own descriptors.
    fn descriptor(path: &Path) -> Option<Sink> {
        match path.to_str()? {
            "/dev/stdout" | "/dev/fd/1" | "/proc/self/fd/1" => Some(Sink::Stdout),
            "/dev/stderr" | "/dev/fd/2" | "/proc/self/fd/2" => Some(Sink::Stderr),
            _ if path.starts_with("/dev/fd")
                || (path.starts_with("/proc") && path.components().any(|c| c.as_os_str() == "fd")) =>
            {
                Some(Sink::Path(path.to_path_buf()))
            }
            _ => None,
        }
    }
}

/// At most this many symbolic links are followed, as the kernel's own limit.
const MAX_LINKS: usize = 40;

/// Resolves `path`: follows symbolic links, refuses folders.
pub(crate) fn resolve(path: &Path) -> Result<Target> {
    let cannot = |e: std::io::Error, path: &Path| {
        DataFusionError::IoError(e).context(format!("cannot write '{}'", path.display()))
    };
    if path.as_os_str().to_string_lossy().ends_with('/') {
        return plan_err!("cannot write '{}': it names a folder, not a file", path.display());
    }
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        // one of the process's open files: written through whatever it is, as the shell set
        // it up (a pipe, a terminal, a file opened for appending)
        if let Some(sink) = Sink::descriptor(&current) {
            return Ok(Target::Through(sink));
        }
        let metadata = match std::fs::symlink_metadata(&current) {
            Ok(metadata) => metadata,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Target::Replace {
                    path: current,
                    existing: None,
                });
            }
            Err(e) => return Err(cannot(e, &current)),
        };
        let kind = metadata.file_type();
        if kind.is_symlink() {
            let link = std::fs::read_link(&current).map_err(|e| cannot(e, &current))?;
            current = match current.parent() {
                Some(dir) if link.is_relative() => dir.join(link),
                _ => link,
            };
        } else if kind.is_dir() {
            return plan_err!("cannot write '{}': it is a folder", current.display());
        } else if kind.is_file() {
            return Ok(Target::Replace {
                path: current,
                existing: Some(metadata),
            });
        } else {
            return Ok(Target::Through(Sink::Path(current)));
        }
    }
    plan_err!(
        "cannot write '{}': more than {MAX_LINKS} symbolic links to follow",
        path.display()
    )
}

/// Refuses `target` when it is a file of a table registered in `catalogs` (a file a listing table
/// reads, or any file inside a folder it reads, or inside a folder named as the table that holds
/// its files, as `--data`'s `NAME/` folders): writing it would replace the export's own input.
pub async fn refuse_inputs(catalogs: &dyn CatalogProviderList, target: &Path) -> Result<()> {
    let Some(target) = absolute(target) else {
        return Ok(());
    };
    for catalog_name in catalogs.catalog_names() {
        let Some(catalog) = catalogs.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            for table_name in schema.table_names() {
                let Ok(Some(table)) = schema.table(&table_name).await else {
                    continue;
                };
                let Some(listing) = listing(table.as_ref()) else {
                    continue;
                };
                for url in listing.table_paths() {
                    let Ok(input) = url.get_url().to_file_path() else {
                        continue;
                    };
                    let Some(input) = absolute(&input) else {
                        continue;
                    };
                    // A folder table's folder (`--data`'s NAME/): a file written there would be
                    // read as part of the table.
                    let named = |p: &Path| {
                        p.file_stem()
                            .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(&table_name))
                    };
                    let folder = match input.parent() {
                        _ if url.is_collection() => Some(input.as_path()),
                        Some(dir) if !named(&input) && named(dir) => Some(dir),
                        _ => None,
                    };
                    if target == input || folder.is_some_and(|f| target.starts_with(f)) {
                        return plan_err!(
                            "cannot write '{}': it is an input of table '{table_name}', which \
                             the export reads",
                            target.display()
                        );
                    }
                    // `REFUSALS.csv` beside `refusals.parquet`: the next run would find two
                    // tables named `refusals`
                    if folder.is_none()
                        && target.parent() == input.parent()
                        && named(&target)
                        && crate::sources::DataFormat::of(&target).is_some()
                    {
                        return plan_err!(
                            "cannot write '{}': beside '{}' it would be read as a second table \
                             '{table_name}'",
                            target.display(),
                            input.display()
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

/// The listing table `table` is, or reads through.
fn listing(table: &dyn TableProvider) -> Option<&ListingTable> {
    match table.downcast_ref::<NamedSource>() {
        Some(named) => named.inner().as_ref().downcast_ref::<ListingTable>(),
        None => table.downcast_ref::<ListingTable>(),
    }
}

/// `path` made absolute with its links resolved, as far as it exists (a missing file name is
/// joined to its folder's resolved path).
fn absolute(path: &Path) -> Option<PathBuf> {
    if let Ok(resolved) = std::fs::canonicalize(path) {
        return Some(resolved);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Some(std::fs::canonicalize(dir).ok()?.join(name))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn follows_links_and_tells_kinds() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("report.csv");
        std::fs::write(&file, "x").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("report.csv", &link).unwrap();
        let chain = dir.path().join("chain.csv");
        std::os::unix::fs::symlink(&link, &chain).unwrap();
        let Target::Replace { path, existing } = resolve(&chain).unwrap() else {
            panic!("a link to a file is replaced");
        };
        assert_eq!(path, file);
        assert!(existing.is_some());
        let dangling = dir.path().join("dangling.csv");
        std::os::unix::fs::symlink("new.csv", &dangling).unwrap();
        let Target::Replace { path, existing } = resolve(&dangling).unwrap() else {
            panic!("a dangling link creates its target");
        };
        assert_eq!(path, dir.path().join("new.csv"));
        assert!(existing.is_none());
        assert!(matches!(
            resolve(Path::new("/dev/null")).unwrap(),
            Target::Through(_)
        ));
        assert!(matches!(
            resolve(Path::new("/dev/stdout")).unwrap(),
            Target::Through(_)
        ));
        let err = resolve(dir.path()).unwrap_err().to_string();
        assert!(err.contains("it is a folder"), "{err}");
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looped).unwrap();
        let err = resolve(&looped).unwrap_err().to_string();
        assert!(err.contains("symbolic links"), "{err}");
    }
}
