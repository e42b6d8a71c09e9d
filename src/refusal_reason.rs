//! `refusal_reason(raw)`: the canonical label of a raw refusal reason.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::reasons;

/// `refusal_reason(raw)`: the canonical reason label (`no_answer` gives `NoAnswer`); an
/// unrecognized value is returned unchanged and NULL stays NULL. Accepts strings and integers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RefusalReason {
    signature: Signature,
}

impl Default for RefusalReason {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// The `refusal_reason` scalar function.
pub fn refusal_reason_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RefusalReason::default())
}

/// Checks that `t` is a type the reason functions accept: strings, integers or NULL.
pub(crate) fn check_reason_type(name: &str, t: &DataType) -> Result<()> {
    if t.is_integer() || t.is_null() || matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
    {
        Ok(())
    } else {
        plan_err!("{name}: unsupported argument type {t}; expected a string or an integer")
    }
}

/// Applies `f` to every value of a string or integer argument, producing a Utf8 result.
pub(crate) fn map_reasons(
    name: &str,
    args: ScalarFunctionArgs,
    f: impl for<'a> Fn(&'a str, &mut String) -> Option<&'a str>,
) -> Result<ColumnarValue> {
    let [arg] = args.args.as_slice() else {
        return exec_err!("{name} takes exactly one argument");
    };
    let is_scalar = matches!(arg, ColumnarValue::Scalar(_));
    let array = arg.to_array(1)?;
    let mut scratch = String::new();
    let mut out = StringBuilder::with_capacity(array.len(), 8 * array.len());
    let mut append = |v: Option<&str>| out.append_option(v.and_then(|v| f(v, &mut scratch)));
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

impl ScalarUDFImpl for RefusalReason {
    fn name(&self) -> &str {
        "refusal_reason"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_reason_type(self.name(), &arg_types[0])?;
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_reasons(self.name(), args, |raw, scratch| {
            Some(reasons::lookup_with(raw, scratch).map_or(raw, |r| r.label))
        })
    }
}
