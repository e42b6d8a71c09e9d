//! Errors as users read them: one line that names what failed.

use datafusion::error::DataFusionError;

/// The one-line message of an error: the descriptions of its context layers (each once, however
/// deeply DataFusion nested them: `file 'data/refusals.csv'`), then the text of its innermost
/// cause without DataFusion's category prefix, first line only
/// (`cannot write 'r.csv': No space left on device (os error 28)`).
pub fn error_line(e: &DataFusionError) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut layer = e;
    while let Some(inner) = inner_error(layer) {
        if let DataFusionError::Context(description, _) = layer {
            // DataFusion's own layer names a stage, not the user's input.
            let stage = description.starts_with("Optimizer rule '");
            if !stage && !parts.contains(description) {
                parts.push(description.clone());
            }
        }
        layer = inner;
    }
    let cause = match layer {
        DataFusionError::Plan(m) | DataFusionError::Execution(m) | DataFusionError::Configuration(m) => {
            m.clone()
        }
        DataFusionError::IoError(io) => io.to_string(),
        DataFusionError::ArrowError(arrow, _) => arrow.to_string(),
        DataFusionError::SQL(e, _) => format!("SQL error: {e}"),
        other => other.strip_backtrace(),
    };
    if parts.last() != Some(&cause) {
        parts.push(cause);
    }
    let line = parts.join(": ");
    line.lines().next().unwrap_or_default().to_string()
}

/// The error a layer of a DataFusion error wraps, if any (through Arrow's and other external
/// errors that hold a DataFusion error).
fn inner_error(e: &DataFusionError) -> Option<&DataFusionError> {
    fn external<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a DataFusionError> {
        if let Some(df) = e.downcast_ref::<DataFusionError>() {
            return Some(df);
        }
        match e.downcast_ref::<arrow::error::ArrowError>() {
            Some(arrow::error::ArrowError::ExternalError(inner)) => external(inner.as_ref()),
            _ => None,
        }
    }
    match e {
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => Some(inner),
        DataFusionError::Shared(inner) => Some(inner),
        DataFusionError::Collection(errors) => errors.first(),
        DataFusionError::External(inner) => external(inner.as_ref()),
        DataFusionError::ArrowError(arrow, _) => match arrow.as_ref() {
            arrow::error::ArrowError::ExternalError(inner) => external(inner.as_ref()),
            _ => None,
        },
        _ => None,
    }
}
