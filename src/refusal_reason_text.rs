//! `refusal_reason_text(reason)`: this project's description of a refusal reason.

use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};

use crate::reasons;
use crate::refusal_reason::{check_reason_type, map_reasons};

/// `refusal_reason_text(reason)`: the description of a reason, after the same matching as
/// `refusal_reason`; NULL for NULL or an unrecognized reason. Accepts strings and integers.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct RefusalReasonText {
    signature: Signature,
}

impl Default for RefusalReasonText {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// The `refusal_reason_text` scalar function.
pub fn refusal_reason_text_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(RefusalReasonText::default())
}

impl ScalarUDFImpl for RefusalReasonText {
    fn name(&self) -> &str {
        "refusal_reason_text"
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
            reasons::lookup_with(raw, scratch).map(|r| r.description)
        })
    }
}
