//! Where inference time goes, op by op: the square plan run node by node through tract's own evaluation hook,
//! each node's evaluation timed and summed by op kind. It is the profile `shoplens bench --ops` prints, and it runs
//! on a device without `perf` or symbols.

use std::collections::BTreeMap;
use std::time::Instant;

use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::{eval, SimpleState};

use super::Embedder;
use crate::{Error, Result};

/// The time of one kind of op in a run, summed over its nodes.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OpTime {
    /// tract's name for the op (`OptMatMul`, `ShopLensDepthwise`, ...); by node, `#id name: tract's description`.
    pub op: String,
    /// How many nodes of the plan run it.
    pub nodes: usize,
    /// Median over the runs of the time spent in its nodes, in milliseconds.
    pub ms: f64,
}

impl Embedder {
    /// Runs the square plan `runs` times (after a warm-up run) on a blank tensor, timing every node, and returns
    /// the time per op kind, largest first. The sum is a little above a plain run's time (the clock calls).
    /// With `by_node`, every node is its own entry, named `#id op: what tract says about it` (shapes, kernels).
    pub fn profile_ops(&self, runs: usize, by_node: bool) -> Result<Vec<OpTime>> {
        let plan = self.plan.clone();
        let input: Tensor = tract_ndarray::ArrayD::<f32>::zeros(&self.spec.shape()[..]).into();
        // The state is made, run and dropped on the pool's thread: tract keeps each product's scratch per thread
        // and session, and frees it when the state is dropped on the thread that ran it.
        let per_run = self.on_pool(|| -> Result<Vec<BTreeMap<String, (usize, f64)>>> {
            let mut state = SimpleState::new(&plan)?;
            // Per run: op name -> (nodes, seconds).
            let mut per_run = Vec::with_capacity(runs);
            for run in 0..=runs.max(1) {
                let mut times = BTreeMap::<String, (usize, f64)>::new();
                state.run_plan_with_eval(tvec!(input.clone().into()), |ctx, op_state, node, inputs| {
                    let start = Instant::now();
                    let out = eval(ctx, op_state, node, inputs);
                    // Timed before the label is built, so that the string work is not counted.
                    let elapsed = start.elapsed().as_secs_f64();
                    let key = match by_node {
                        true => format!("#{} {}: {}", node.id, node.op().name(), node.op().info()?.join(", ")),
                        false => node.op().name().to_string(),
                    };
                    let entry = times.entry(key).or_default();
                    entry.0 += 1;
                    entry.1 += elapsed;
                    out
                })?;
                if run > 0 {
                    per_run.push(times);
                }
            }
            Ok(per_run)
        })?;
        let first = per_run.first().ok_or_else(|| Error::Model("no profile run".into()))?;
        let mut ops: Vec<OpTime> = first
            .iter()
            .map(|(op, &(nodes, _))| {
                let mut ms: Vec<f64> = per_run.iter().map(|t| t.get(op).map_or(0.0, |e| e.1 * 1e3)).collect();
                ms.sort_by(f64::total_cmp);
                OpTime { op: op.clone(), nodes, ms: ms[ms.len() / 2] }
            })
            .collect();
        ops.sort_by(|a, b| b.ms.total_cmp(&a.ms));
        Ok(ops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmbedderOptions;

    #[test]
    fn the_profile_covers_the_plan_and_finds_our_depthwise_op() {
        let root = env!("CARGO_MANIFEST_DIR");
        let model = format!("{root}/models/shoplens-effnet-lite0-int8.onnx");
        let embedder = Embedder::from_path(model, EmbedderOptions { threads: 1, ..Default::default() }).unwrap();
        let ops = embedder.profile_ops(2, false).unwrap();
        let dw = ops.iter().find(|o| o.op == "ShopLensDepthwise").expect("our depthwise op in the plan");
        // The stem and the 16 depthwise convolutions; on arm64 tract lays the graph out channels-last after the
        // first, which stays tract's.
        assert_eq!(dw.nodes, if cfg!(target_arch = "aarch64") { 2 } else { 17 });
        assert!(ops.iter().all(|o| o.ms >= 0.0 && o.nodes > 0));
        let nodes: usize = ops.iter().map(|o| o.nodes).sum();
        assert_eq!(nodes, embedder.plan.order_without_consts().len(), "every node the plan runs, once");
        let by_node = embedder.profile_ops(1, true).unwrap();
        assert_eq!(by_node.len(), nodes, "one entry per node");
        assert!(by_node.iter().all(|o| o.nodes == 1 && o.op.starts_with('#')));
        let ours = by_node.iter().filter(|o| o.op.contains(" ShopLensDepthwise: ")).count();
        assert_eq!(ours, dw.nodes);
    }
}
