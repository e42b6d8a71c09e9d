//! The scalar functions `refusal_reason(raw)` and `refusal_reason_text(reason)`: one implementation,
//! two mappings of a matched reason.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use super::{Reason, lookup_with};

/// What a reason function returns for a raw value, given the reason it matched (if any).
type Mapping = for<'a> fn(&'a str, Option<&'static Reason>) -> Option<&'a str>;

/// A scalar function over raw reasons: accepts any string type or an integer, returns Utf8.
#[derive(Debug)]
pub struct ReasonFunction {
    name: &'static str,
    mapping: Mapping,
    signature: Signature,
}

impl PartialEq for ReasonFunction {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for ReasonFunction {}

impl std::hash::Hash for ReasonFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

impl ReasonFunction {
    fn new(name: &'static str, mapping: Mapping) -> Self {
        Self {
            name,
            mapping,
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// `refusal_reason(raw)`: the canonical reason label (`no_answer` gives `NoAnswer`); an
/// unrecognized value is returned unchanged and NULL stays NULL.
pub fn refusal_reason_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ReasonFunction::new("refusal_reason", |raw, reason| {
        Some(reason.map_or(raw, |r| r.label))
    }))
}

/// `refusal_reason_text(reason)`: the description of a reason, after the same matching as
/// `refusal_reason`; NULL for NULL or an unrecognized reason.
pub fn refusal_reason_text_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(ReasonFunction::new("refusal_reason_text", |_, reason| {
        reason.map(|r| r.description)
    }))
}

impl ScalarUDFImpl for ReasonFunction {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [t] if t.is_integer()
                || t.is_null()
                || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) =>
            {
                Ok(DataType::Utf8)
            }
            [t] => plan_err!(
                "{}: unsupported argument type {t}; expected a string or an integer",
                self.name
            ),
            _ => plan_err!("{} takes exactly one argument", self.name),
        }
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [arg] = args.args.as_slice() else {
            return exec_err!("{} takes exactly one argument", self.name);
        };
        let is_scalar = matches!(arg, ColumnarValue::Scalar(_));
        let array = arg.to_array(1)?;
        let mut scratch = String::new();
        let mut out = StringBuilder::with_capacity(array.len(), 8 * array.len());
        let mapping = self.mapping;
        let mut append = |v: Option<&str>| {
            out.append_option(v.and_then(|v| mapping(v, lookup_with(v, &mut scratch))));
        };
        match array.data_type() {
            DataType::Utf8 => array.as_string::<i32>().iter().for_each(&mut append),
            DataType::LargeUtf8 => array.as_string::<i64>().iter().for_each(&mut append),
            DataType::Utf8View => array.as_string_view().iter().for_each(&mut append),
            _ => cast(&array, &DataType::Utf8)?
                .as_string::<i32>()
                .iter()
                .for_each(&mut append),
        }
        let result: ArrayRef = Arc::new(out.finish());
        if is_scalar {
            Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
        } else {
            Ok(ColumnarValue::Array(result))
        }
    }
}
