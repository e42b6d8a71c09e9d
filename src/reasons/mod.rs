//! Refusal reasons: CXone's catalogue, the matching rule that maps raw values onto it, the scalar
//! functions `refusal_reason` and `refusal_reason_text`, and the `refusal_reasons` table.

mod functions;
mod table;

pub use functions::{ReasonFunction, refusal_reason_text_udf, refusal_reason_udf};
pub use table::{refusal_reasons_schema, refusal_reasons_table};

/// One canonical refusal reason of CXone's Agent Refusal report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reason {
    /// The canonical label, exactly as CXone prints it (`NoAnswer`, `Bad Number`, ...).
    pub label: &'static str,
    /// This project's own description of what the reason means.
    pub description: &'static str,
    /// The telephony cause codes CXone documents for the reason (empty when none are known).
    pub cause_codes: &'static [i64],
}

/// Every canonical reason, in CXone's order.
pub const REASONS: &[Reason] = &[
    Reason {
        label: "Bad Number",
        description: "The phone number the agent logged in with is not valid, so the contact could not reach the agent's station.",
        cause_codes: &[1, 16, 31, 253],
    },
    Reason {
        label: "Busy",
        description: "The agent's phone was busy with a call outside the platform or no port was free; on outbound contacts, the dialed number was busy.",
        cause_codes: &[17, 34, 46, 254],
    },
    Reason {
        label: "ContactAlreadyRouted",
        description: "Dynamic delivery had already handed the contact to another agent before this agent took it.",
        cause_codes: &[],
    },
    Reason {
        label: "Error",
        description: "Delivering the contact failed somewhere on the telephone network.",
        cause_codes: &[],
    },
    Reason {
        label: "Invalid Call Leg",
        description: "A call leg was lost while the contact was being delivered, through network latency or a station timeout set equal to the after-call-work time.",
        cause_codes: &[],
    },
    Reason {
        label: "NoAnswer",
        description: "The agent's phone rang and nobody picked up; typically the agent left the station without going unavailable.",
        cause_codes: &[],
    },
    Reason {
        label: "LinkFailed",
        description: "The platform could not connect the agent's leg of the call to the caller's leg.",
        cause_codes: &[],
    },
    Reason {
        label: "Dropped",
        description: "The agent's leg hung up before it was connected to the caller.",
        cause_codes: &[],
    },
    Reason {
        label: "AgentLinkTimeout",
        description: "Sixty seconds went by without the agent's phone being connected.",
        cause_codes: &[],
    },
    Reason {
        label: "NA",
        description: "No other reason applies; seldom seen.",
        cause_codes: &[],
    },
    Reason {
        label: "0",
        description: "Cause code zero: no other reason applies; seldom seen.",
        cause_codes: &[],
    },
];

/// The matching key of a raw reason: trimmed, lower-cased, without spaces, underscores or hyphens.
fn key(raw: &str, out: &mut String) {
    out.clear();
    for c in raw.trim().chars() {
        if !matches!(c, ' ' | '_' | '-') {
            out.extend(c.to_lowercase());
        }
    }
}

/// Finds the canonical reason a raw value stands for, using a caller-provided scratch buffer.
fn lookup_with(raw: &str, scratch: &mut String) -> Option<&'static Reason> {
    // most values are already canonical
    if let Some(r) = REASONS.iter().find(|r| r.label == raw) {
        return Some(r);
    }
    key(raw, scratch);
    REASONS.iter().find(|r| {
        let mut chars = scratch.chars();
        r.label
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .flat_map(char::to_lowercase)
            .all(|c| chars.next() == Some(c))
            && chars.next().is_none()
    })
}

/// Finds the canonical reason a raw value stands for, if any.
///
/// Values match when they are equal after trimming, ignoring case, spaces, underscores and
/// hyphens: `no answer`, `NO_ANSWER` and `noanswer` all give `NoAnswer`.
pub fn lookup(raw: &str) -> Option<&'static Reason> {
    lookup_with(raw, &mut String::new())
}

/// The canonical label for a raw reason; an unrecognized value is returned as it was.
pub fn canonical(raw: &str) -> &str {
    lookup(raw).map_or(raw, |r| r.label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rule() {
        for (raw, want) in [
            ("no answer", "NoAnswer"),
            ("NO_ANSWER", "NoAnswer"),
            ("  noanswer ", "NoAnswer"),
            ("badnumber", "Bad Number"),
            ("invalid-call-leg", "Invalid Call Leg"),
            ("0", "0"),
            ("na", "NA"),
            ("Contact Already Routed", "ContactAlreadyRouted"),
            ("nope", "nope"),
            ("", ""),
            ("00", "00"),
        ] {
            assert_eq!(canonical(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn labels_match_themselves() {
        for r in REASONS {
            assert_eq!(lookup(r.label), Some(r));
        }
    }
}
