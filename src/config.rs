//! The `agent_refusal.*` session settings.

use std::any::Any;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::{Result, config_err};

use crate::report::Zone;

/// Session settings of the report, set with `SET agent_refusal.<name> = ...` and listed under
/// their full names by `SHOW ALL` and `information_schema.df_settings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentRefusalConfig {
    /// The report's time zone (IANA name or fixed offset); unset falls back to
    /// `datafusion.execution.time_zone`, then UTC.
    pub time_zone: Option<String>,
    /// Use the zone's standard offset all year, as CXone does (default `false`).
    pub ignore_dst: bool,
    /// Name of the refusal events table (default `refusals`).
    pub refusals_table: String,
    /// Name of the contacts table (default `contacts`).
    pub contacts_table: String,
    /// Name of the agents table (default `agents`).
    pub agents_table: String,
}

impl Default for AgentRefusalConfig {
    fn default() -> Self {
        Self {
            time_zone: None,
            ignore_dst: false,
            refusals_table: "refusals".into(),
            contacts_table: "contacts".into(),
            agents_table: "agents".into(),
        }
    }
}

const DESCRIPTIONS: [(&str, &str); 5] = [
    (
        "time_zone",
        "Time zone of the Agent Refusal report (IANA name such as America/New_York, or an offset such as +05:30). Unset: datafusion.execution.time_zone, else UTC.",
    ),
    (
        "ignore_dst",
        "When true, the report uses the zone's standard offset all year, as CXone's data downloads do.",
    ),
    ("refusals_table", "Table holding one row per refusal event."),
    (
        "contacts_table",
        "Table holding contacts and their last handling agent.",
    ),
    ("agents_table", "Table holding agents' first and last names."),
];

impl ConfigExtension for AgentRefusalConfig {
    const PREFIX: &'static str = "agent_refusal";
}

impl ExtensionOptions for AgentRefusalConfig {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let table_name = |value: &str| -> Result<String> {
            let value = value.trim();
            if value.is_empty() {
                return config_err!("agent_refusal.{key} must name a table, got an empty string");
            }
            Ok(value.to_string())
        };
        match key {
            "time_zone" => {
                let value = value.trim();
                self.time_zone = if value.is_empty() || value.eq_ignore_ascii_case("null") {
                    None
                } else {
                    Zone::parse(value)?;
                    Some(value.to_string())
                };
            }
            "ignore_dst" => {
                self.ignore_dst = match value.trim().to_ascii_lowercase().as_str() {
                    "true" | "on" | "1" | "yes" => true,
                    "false" | "off" | "0" | "no" => false,
                    _ => {
                        return config_err!("agent_refusal.ignore_dst must be true or false, got '{value}'");
                    }
                }
            }
            "refusals_table" => self.refusals_table = table_name(value)?,
            "contacts_table" => self.contacts_table = table_name(value)?,
            "agents_table" => self.agents_table = table_name(value)?,
            _ => return config_err!("unknown setting 'agent_refusal.{key}'"),
        }
        Ok(())
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        let values = [
            self.time_zone.clone(),
            Some(self.ignore_dst.to_string()),
            Some(self.refusals_table.clone()),
            Some(self.contacts_table.clone()),
            Some(self.agents_table.clone()),
        ];
        DESCRIPTIONS
            .iter()
            .zip(values)
            .map(|((key, description), value)| ConfigEntry {
                key: format!("{}.{key}", Self::PREFIX),
                value,
                description,
            })
            .collect()
    }
}
