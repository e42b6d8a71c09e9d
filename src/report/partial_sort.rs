//! `PartialSortRule`: a sort whose input is already ordered on a prefix of its keys only orders
//! the ties.
//!
//! DataFusion turns such a `SortExec` into a `PartialSortExec` for unbounded (streaming) inputs
//! only. The report's final sort is `refuse_time, contact_id, refusing_agent_id`, and when the
//! refusals are known to be sorted by `refuse_time` (a declared `WITH ORDER`, or Parquet
//! `sorting_columns`) its input keeps that order through the joins. A full sort of a year would
//! then buffer every row and compare all of them; the partial sort sorts each run of equal times
//! as it streams by, holding one run at a time (a run is the rows of one instant).
//!
//! The rule applies to every query of a session that `register` set up. A partial sort cannot
//! spill, so its memory follows the largest run of equal prefix values: for the report that is
//! the events of one microsecond; a query sorting on a low-cardinality prefix holds more.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::sorts::partial_sort::PartialSortExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// Replaces a `SortExec` by a `PartialSortExec` when its input is already sorted on a prefix of
/// the sort keys, for bounded inputs too. Added to the session by [`crate::register`].
#[derive(Debug, Default)]
pub struct PartialSortRule;

impl PartialSortRule {
    /// The rule's name, as `EXPLAIN VERBOSE` shows it.
    pub const NAME: &'static str = "agent_refusal_partial_sort";
}

impl PhysicalOptimizerRule for PartialSortRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(sort) = node.downcast_ref::<SortExec>() else {
                return Ok(Transformed::no(node));
            };
            let keys = sort.expr();
            let properties = sort.input().equivalence_properties();
            let mut prefix = 0;
            while prefix < keys.len() && properties.ordering_satisfy(keys[..=prefix].to_vec())? {
                prefix += 1;
            }
            // No prefix: nothing to gain. The whole ordering: EnforceSorting already removed it.
            if prefix == 0 || prefix == keys.len() {
                return Ok(Transformed::no(node));
            }
            let partial = PartialSortExec::new(keys.clone(), Arc::clone(sort.input()), prefix)
                .with_preserve_partitioning(sort.preserve_partitioning())
                .with_fetch(sort.fetch());
            Ok(Transformed::yes(Arc::new(partial) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        Self::NAME
    }

    fn schema_check(&self) -> bool {
        true
    }
}
