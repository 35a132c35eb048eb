//! Weight-only int8 restored to float before tract sees the graph.
//!
//! The shipped model stores each convolution's weights as int8 behind a `DequantizeLinear` with a per-channel scale.
//! tract-onnx 0.23 turns each of those into a cast, a subtraction and a multiplication and folds them while it types
//! the graph, which took 175 ms of the 230 ms a plan took to make (the fp32 file types in 3 ms). This pass does the
//! same arithmetic, `(x - zero_point) * scale` in f32, directly on the ONNX protobuf, so the weights tract receives are
//! bit for bit the ones it would have computed. A `DequantizeLinear` it does not recognize exactly (inputs that are
//! not initializers, external data, other types, shapes that disagree) is left to tract.

use std::collections::{HashMap, HashSet};

use tract_onnx::pb::attribute_proto::AttributeType;
use tract_onnx::pb::tensor_proto::DataType;
use tract_onnx::pb::{ModelProto, NodeProto, TensorProto};

/// Replaces every recognized weight `DequantizeLinear` of the main graph by an f32 initializer holding its output,
/// and drops the int8 initializers it read that nothing else reads. Returns how many nodes were folded. A graph with
/// subgraphs (`If`, `Loop`, `Scan`, which may read the main graph's initializers by name) is left whole.
pub(crate) fn fold_weight_dequantize(model: &mut ModelProto) -> usize {
    let Some(graph) = model.graph.as_mut() else { return 0 };
    if graph.node.iter().flat_map(|n| &n.attribute).any(|a| a.g.is_some() || !a.graphs.is_empty()) {
        return 0;
    }
    let index: HashMap<&str, usize> = graph.initializer.iter().enumerate().map(|(i, t)| (t.name.as_str(), i)).collect();
    let mut folded: Vec<(usize, TensorProto)> = Vec::new();
    // The quantized values and zero points the folded nodes read (not scales: small, and often shared).
    let mut read: HashSet<String> = HashSet::new();
    for (n, node) in graph.node.iter().enumerate() {
        if node.op_type != "DequantizeLinear" || !(node.domain.is_empty() || node.domain == "ai.onnx") {
            continue;
        }
        let init = |i: usize| node.input.get(i).filter(|s| !s.is_empty()).and_then(|s| index.get(s.as_str()));
        let (Some(&x), Some(&scale)) = (init(0), init(1)) else { continue };
        let zero = match node.input.get(2).filter(|s| !s.is_empty()) {
            Some(_) => match init(2) {
                Some(&z) => Some(&graph.initializer[z]),
                None => continue,
            },
            None => None,
        };
        let (Some(out), [_]) = (node.output.first(), &node.output[..]) else { continue };
        let Some(axis) = axis_of(node) else { continue };
        if let Some(mut t) = dequantize(&graph.initializer[x], &graph.initializer[scale], zero, axis) {
            t.name = out.clone();
            folded.push((n, t));
            read.extend(node.input.iter().filter(|i| *i != &node.input[1]).cloned());
        }
    }
    if folded.is_empty() {
        return 0;
    }
    let gone: HashSet<usize> = folded.iter().map(|(n, _)| *n).collect();
    let mut keep = 0;
    graph.node.retain(|_| {
        keep += 1;
        !gone.contains(&(keep - 1))
    });
    let count = folded.len();
    graph.initializer.extend(folded.into_iter().map(|(_, t)| t));
    // Those int8 tensors are now read by nothing, unless another node, an output or an input still names them.
    let used: HashSet<&str> = graph
        .node
        .iter()
        .flat_map(|n| n.input.iter().map(String::as_str))
        .chain(graph.output.iter().chain(&graph.input).map(|o| o.name.as_str()))
        .collect();
    let gone: HashSet<String> = read.into_iter().filter(|name| !used.contains(name.as_str())).collect();
    graph.initializer.retain(|t| !gone.contains(&t.name));
    count
}

/// `axis` as ONNX reads it (1 unless given), when it is the node's only attribute and an integer: `block_size`
/// (blocked scales, opset 21), `output_dtype` or anything newer is left to tract.
fn axis_of(node: &NodeProto) -> Option<i64> {
    match &node.attribute[..] {
        [] => Some(1),
        [a] if a.name == "axis" && a.r#type == AttributeType::Int as i32 => Some(a.i),
        _ => None,
    }
}

/// `(x - zero) * scale` per element, with `scale` (and `zero`) either one value or one per index of `axis`.
fn dequantize(x: &TensorProto, scale: &TensorProto, zero: Option<&TensorProto>, axis: i64) -> Option<TensorProto> {
    let dims: Vec<usize> = x.dims.iter().map(|&d| usize::try_from(d).ok()).collect::<Option<_>>()?;
    let len = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
    let dt = x.data_type;
    let values = integers(x, dt)?;
    // Scales and zero points: a scalar or one axis, holding as many values as their dims say.
    let param = |t: &TensorProto, n: usize| {
        t.dims.len() <= 1 && t.dims.iter().try_fold(1i64, |a, &d| a.checked_mul(d)) == i64::try_from(n).ok()
    };
    let scales = floats(scale).filter(|v| param(scale, v.len()))?;
    let zeros = match zero {
        Some(z) if z.data_type == dt => integers(z, dt).filter(|v| param(z, v.len()))?,
        Some(_) => return None,
        None => vec![0.0; scales.len()],
    };
    if values.len() != len || zeros.len() != scales.len() || scales.is_empty() {
        return None;
    }
    // Which scale each element takes: all the same, or by its index along `axis` (negative counts from the end).
    let (inner, channels) = if scales.len() == 1 {
        (len.max(1), 1)
    } else {
        let rank = dims.len() as i64;
        let axis = if axis < 0 { axis + rank } else { axis };
        let axis = usize::try_from(axis).ok().filter(|&a| a < dims.len())?;
        if dims[axis] != scales.len() {
            return None;
        }
        (dims[axis + 1..].iter().product::<usize>().max(1), dims[axis])
    };
    let mut raw = Vec::with_capacity(len * 4);
    for (i, &q) in values.iter().enumerate() {
        let c = (i / inner) % channels;
        raw.extend_from_slice(&((q - zeros[c]) * scales[c]).to_le_bytes());
    }
    Some(TensorProto { dims: x.dims.clone(), data_type: DataType::Float as i32, raw_data: raw, ..Default::default() })
}

fn inline(t: &TensorProto) -> bool {
    t.data_location.is_none_or(|l| l == 0)
}

/// An int8 or uint8 tensor's values as f32 (exact).
fn integers(t: &TensorProto, dt: i32) -> Option<Vec<f32>> {
    if !inline(t) {
        return None;
    }
    let raw = !t.raw_data.is_empty();
    match DataType::try_from(dt).ok()? {
        DataType::Int8 if raw => Some(t.raw_data.iter().map(|&b| b as i8 as f32).collect()),
        DataType::Uint8 if raw => Some(t.raw_data.iter().map(|&b| b as f32).collect()),
        DataType::Int8 => Some(t.int32_data.iter().map(|&v| v as i8 as f32).collect()),
        DataType::Uint8 => Some(t.int32_data.iter().map(|&v| v as u8 as f32).collect()),
        _ => None,
    }
}

/// A float tensor's values.
fn floats(t: &TensorProto) -> Option<Vec<f32>> {
    if !inline(t) || t.data_type != DataType::Float as i32 {
        return None;
    }
    if t.raw_data.is_empty() {
        return Some(t.float_data.clone());
    }
    if !t.raw_data.len().is_multiple_of(4) {
        return None;
    }
    Some(t.raw_data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tract_onnx::pb::{AttributeProto, GraphProto};

    fn tensor(name: &str, dims: &[i64], dt: DataType, raw: Vec<u8>) -> TensorProto {
        TensorProto {
            name: name.into(),
            dims: dims.to_vec(),
            data_type: dt as i32,
            raw_data: raw,
            ..Default::default()
        }
    }

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn dq(inputs: &[&str], axis: Option<i64>) -> NodeProto {
        let attribute = axis.map(|i| AttributeProto {
            name: "axis".into(),
            i,
            r#type: AttributeType::Int as i32,
            ..Default::default()
        });
        NodeProto {
            op_type: "DequantizeLinear".into(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec!["w".into()],
            attribute: attribute.into_iter().collect(),
            ..Default::default()
        }
    }

    fn model(initializer: Vec<TensorProto>, node: NodeProto) -> ModelProto {
        let conv = NodeProto { op_type: "Conv".into(), input: vec!["x".into(), "w".into()], ..Default::default() };
        ModelProto {
            graph: Some(GraphProto { initializer, node: vec![node, conv], ..Default::default() }),
            ..Default::default()
        }
    }

    fn folded_values(m: &ModelProto) -> Vec<f32> {
        let g = m.graph.as_ref().unwrap();
        let w = g.initializer.iter().find(|t| t.name == "w").expect("folded weights");
        assert_eq!(w.data_type, DataType::Float as i32);
        floats(w).unwrap()
    }

    #[test]
    fn per_channel_weights_fold_along_the_axis() {
        // 2 output channels x 3 weights; scales 0.5 and 2, zero points 1 and -1.
        let q = [1i8, 3, -1, 0, 2, -3].map(|v| v as u8).to_vec();
        let zero = [1i8, -1].map(|v| v as u8).to_vec();
        let mut m = model(
            vec![
                tensor("q", &[2, 3], DataType::Int8, q),
                tensor("s", &[2], DataType::Float, f32s(&[0.5, 2.0])),
                tensor("z", &[2], DataType::Int8, zero),
            ],
            dq(&["q", "s", "z"], Some(0)),
        );
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert_eq!(folded_values(&m), vec![0.0, 1.0, -1.0, 2.0, 6.0, -4.0]);
        let g = m.graph.as_ref().unwrap();
        assert_eq!(g.node.len(), 1, "only the convolution is left");
        assert!(g.initializer.iter().all(|t| t.name != "q"), "the int8 tensor is dropped");
    }

    #[test]
    fn default_axis_is_one_and_a_scalar_scale_covers_all() {
        let q = [1i8, 2, 3, 4].map(|v| v as u8).to_vec();
        let mut m = model(
            vec![tensor("q", &[1, 2, 2], DataType::Int8, q), tensor("s", &[2], DataType::Float, f32s(&[1.0, 10.0]))],
            dq(&["q", "s"], None),
        );
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert_eq!(folded_values(&m), vec![1.0, 2.0, 30.0, 40.0]);
        let mut m = model(
            vec![
                tensor("q", &[2, 2], DataType::Uint8, vec![0, 1, 2, 255]),
                tensor("s", &[], DataType::Float, f32s(&[0.5])),
            ],
            dq(&["q", "s"], None),
        );
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert_eq!(folded_values(&m), vec![0.0, 0.5, 1.0, 127.5]);
    }

    #[test]
    fn what_does_not_fit_is_left_to_tract() {
        let cases = [
            // three scales for an axis of 2
            (
                tensor("q", &[2, 2], DataType::Int8, vec![1; 4]),
                tensor("s", &[3], DataType::Float, f32s(&[1.0; 3])),
                Some(0),
            ),
            // fewer bytes than the dims say
            (tensor("q", &[2, 3], DataType::Int8, vec![1; 5]), tensor("s", &[], DataType::Float, f32s(&[1.0])), None),
            // an axis past the rank
            (
                tensor("q", &[2, 2], DataType::Int8, vec![1; 4]),
                tensor("s", &[2], DataType::Float, f32s(&[1.0; 2])),
                Some(5),
            ),
            // a negative dimension
            (tensor("q", &[-2, 2], DataType::Int8, vec![1; 4]), tensor("s", &[], DataType::Float, f32s(&[1.0])), None),
            // int32 values
            (tensor("q", &[1], DataType::Int32, vec![1; 4]), tensor("s", &[], DataType::Float, f32s(&[1.0])), None),
            // a scale that is not f32
            (tensor("q", &[1], DataType::Int8, vec![1]), tensor("s", &[], DataType::Int8, vec![1]), None),
        ];
        for (q, s, axis) in cases {
            let mut m = model(vec![q, s], dq(&["q", "s"], axis));
            let before = m.clone();
            assert_eq!(fold_weight_dequantize(&mut m), 0);
            assert_eq!(m, before);
        }
        // A quantized activation (its input is not an initializer) stays too.
        let mut m = model(vec![tensor("s", &[], DataType::Float, f32s(&[1.0]))], dq(&["x", "s"], None));
        let before = m.clone();
        assert_eq!(fold_weight_dequantize(&mut m), 0);
        assert_eq!(m, before);
    }

    fn two_rows() -> Vec<TensorProto> {
        vec![
            tensor("q", &[2, 2], DataType::Int8, vec![1, 2, 3, 4]),
            tensor("s", &[2], DataType::Float, f32s(&[1.0, 10.0])),
        ]
    }

    #[test]
    fn a_negative_axis_counts_from_the_end() {
        let mut m = model(two_rows(), dq(&["q", "s"], Some(-2)));
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert_eq!(folded_values(&m), vec![1.0, 2.0, 30.0, 40.0]);
        let mut m = model(two_rows(), dq(&["q", "s"], Some(-1)));
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert_eq!(folded_values(&m), vec![1.0, 20.0, 3.0, 40.0]);
    }

    #[test]
    fn attributes_other_than_an_integer_axis_are_left_to_tract() {
        let attribute = |name: &str, kind: AttributeType| AttributeProto {
            name: name.into(),
            r#type: kind as i32,
            i: 1,
            f: 1.0,
            ..Default::default()
        };
        for extra in [
            // blocked scales (opset 21): the same scale count as the axis would mean something else
            vec![attribute("axis", AttributeType::Int), attribute("block_size", AttributeType::Int)],
            vec![attribute("axis", AttributeType::Float)],
            vec![attribute("output_dtype", AttributeType::Int)],
        ] {
            let mut node = dq(&["q", "s"], None);
            node.attribute = extra;
            let mut m = model(two_rows(), node);
            let before = m.clone();
            assert_eq!(fold_weight_dequantize(&mut m), 0);
            assert_eq!(m, before);
        }
    }

    #[test]
    fn parameters_must_be_scalars_or_one_axis_of_matching_type() {
        let mut cases = Vec::new();
        // a scale of shape [2, 1]
        let mut t = two_rows();
        t[1].dims = vec![2, 1];
        cases.push((t, vec!["q", "s"]));
        // scale dims that disagree with its values
        let mut t = two_rows();
        t[1].dims = vec![3];
        cases.push((t, vec!["q", "s"]));
        // a uint8 zero point for int8 values
        let mut t = two_rows();
        t.push(tensor("z", &[2], DataType::Uint8, vec![0, 0]));
        cases.push((t, vec!["q", "s", "z"]));
        for (inits, inputs) in cases {
            let mut m = model(inits, dq(&inputs, Some(0)));
            let before = m.clone();
            assert_eq!(fold_weight_dequantize(&mut m), 0);
            assert_eq!(m, before);
        }
    }

    #[test]
    fn int8_tensors_still_named_elsewhere_are_kept() {
        // Read by another node too.
        let mut m = model(two_rows(), dq(&["q", "s"], Some(0)));
        let g = m.graph.as_mut().unwrap();
        g.node.push(NodeProto { op_type: "Identity".into(), input: vec!["q".into()], ..Default::default() });
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert!(m.graph.as_ref().unwrap().initializer.iter().any(|t| t.name == "q"));
        // A graph output.
        let mut m = model(two_rows(), dq(&["q", "s"], Some(0)));
        m.graph
            .as_mut()
            .unwrap()
            .output
            .push(tract_onnx::pb::ValueInfoProto { name: "q".into(), ..Default::default() });
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        assert!(m.graph.as_ref().unwrap().initializer.iter().any(|t| t.name == "q"));
        // Other initializers are never touched.
        let mut inits = two_rows();
        inits.push(tensor("unused", &[1], DataType::Float, f32s(&[1.0])));
        let mut m = model(inits, dq(&["q", "s"], Some(0)));
        assert_eq!(fold_weight_dequantize(&mut m), 1);
        let names: Vec<&str> = m.graph.as_ref().unwrap().initializer.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["s", "unused", "w"]);
    }

    #[test]
    fn a_graph_with_subgraphs_is_left_whole() {
        let mut m = model(two_rows(), dq(&["q", "s"], Some(0)));
        let branch =
            AttributeProto { name: "then_branch".into(), g: Some(GraphProto::default()), ..Default::default() };
        let g = m.graph.as_mut().unwrap();
        g.node.push(NodeProto { op_type: "If".into(), attribute: vec![branch], ..Default::default() });
        let before = m.clone();
        assert_eq!(fold_weight_dequantize(&mut m), 0);
        assert_eq!(m, before);
    }

    #[test]
    fn the_shipped_model_runs_bit_for_bit_as_tract_folds_it() {
        use tract_onnx::prelude::*;
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/models/shoplens-effnet-lite0-int8.onnx")).unwrap();
        let onnx = tract_onnx::onnx();
        let mut proto = onnx.proto_model_for_read(&mut &bytes[..]).unwrap();
        let plain = proto.clone();
        assert_eq!(fold_weight_dequantize(&mut proto), 48, "every convolution's weights");
        let input: Tensor = tract_ndarray::Array4::from_shape_fn((1, 3, 224, 224), |(_, c, y, x)| {
            ((c * 7 + y * 3 + x) % 17) as f32 / 8.0 - 1.0
        })
        .into();
        let run = |p: &ModelProto| {
            let mut m = onnx.model_for_proto_model(p).unwrap();
            m.set_input_fact(0, f32::fact([1, 3, 224, 224]).into()).unwrap();
            let plan = m.into_optimized().unwrap().into_runnable().unwrap();
            let out = plan.run(tvec!(input.clone().into())).unwrap();
            out[0].to_plain_array_view::<f32>().unwrap().iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
        };
        assert_eq!(run(&proto), run(&plain));
    }
}
