"""Small ONNX graphs around one 1x1 convolution, for the pointwise op's tests in src/model/depthwise.rs: what the op
takes (with and without a clip, a stride-2 one after tract's downsample, a conv output read twice and a model output,
a per-pixel add after it) and what it must leave to tract (padding, groups, weights that are not constants, a batch,
no bias, a map under 28x28, NHWC around it, a plain MatMul). Regenerate with `python3
tests/data/depthwise/gen_pointwise.py` (onnx and numpy; seeded)."""
import os, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(1)
def arr(a, n): return nh.from_array(np.asarray(a, dtype=np.float32), n)
def save(name, nodes, inits, inputs, outs):
    g = h.make_graph(nodes, name, inputs, [h.make_tensor_value_info(o, T.FLOAT, None) for o in outs], inits)
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('', 13)]), os.path.join(OUT, f'{name}.onnx'))
def conv1x1(name, ci, co, H, W, N=1, clip=True, bias=True, group=1, strides=None, pads=None, wconst=True, extra=None):
    inits = []; nodes = []; ins = [h.make_tensor_value_info('x', T.FLOAT, [N, ci, H, W])]
    w = rng.standard_normal((co, ci // group, 1, 1)).astype(np.float32)
    if wconst: inits.append(arr(w, 'w'))
    else: ins.append(h.make_tensor_value_info('w', T.FLOAT, list(w.shape)))
    cin = ['x', 'w']
    if bias: inits.append(arr(rng.standard_normal(co), 'b')); cin.append('b')
    attrs = dict(kernel_shape=[1, 1], group=group)
    if strides: attrs['strides'] = strides
    if pads: attrs['pads'] = pads
    nodes.append(h.make_node('Conv', cin, ['c'], **attrs))
    last = 'c'
    if clip:
        inits += [arr(0.0, 'lo'), arr(6.0, 'hi')]
        nodes.append(h.make_node('Clip', ['c', 'lo', 'hi'], ['y'])); last = 'y'
    outs = [last]
    if extra: extra(nodes, inits, outs, last)
    save(name, nodes, inits, ins, outs)
conv1x1('pw_plain', 8, 12, 30, 30)
conv1x1('pw_noclip', 8, 12, 30, 30, clip=False)
conv1x1('pw_stride2', 8, 12, 60, 61, strides=[2, 2])
conv1x1('pw_pad', 8, 12, 30, 30, pads=[1, 2, 0, 1])
conv1x1('pw_group2', 8, 12, 30, 30, group=2)
conv1x1('pw_wgraph', 8, 12, 30, 30, wconst=False)
conv1x1('pw_batch2', 8, 12, 30, 30, N=2)
conv1x1('pw_nobias', 8, 12, 30, 30, bias=False)
def two_readers(nodes, inits, outs, last):
    # the conv (before the clip) read by the clip and by a Relu too; both outputs out
    nodes.append(h.make_node('Relu', ['c'], ['r'])); outs.append('r'); outs.append('c')
conv1x1('pw_conv_read_twice', 8, 12, 30, 30, extra=two_readers)
def relu_only(nodes, inits, outs, last):
    pass
conv1x1('pw_small', 8, 12, 20, 20)
def perpixel(nodes, inits, outs, last):
    inits.append(arr(rng.standard_normal((12, 30, 30)), 'pp'))
    nodes.append(h.make_node('Add', [last, 'pp'], ['z'])); outs[:] = ['z']
conv1x1('pw_then_perpixel_add', 8, 12, 30, 30, clip=False, extra=perpixel)
# NHWC in, transposed to NCHW, 1x1 conv, back to NHWC
inits = [arr(rng.standard_normal((12, 8, 1, 1)), 'w'), arr(rng.standard_normal(12), 'b')]
nodes = [h.make_node('Transpose', ['x'], ['t'], perm=[0, 3, 1, 2]), h.make_node('Conv', ['t', 'w', 'b'], ['c'], kernel_shape=[1, 1]),
         h.make_node('Transpose', ['c'], ['y'], perm=[0, 2, 3, 1])]
save('pw_nhwc', nodes, inits, [h.make_tensor_value_info('x', T.FLOAT, [1, 30, 31, 8])], ['y'])
# MatMul on a [1, 900, 8] x [8, 12] + bias: not a conv
inits = [arr(rng.standard_normal((8, 12)), 'm'), arr(rng.standard_normal(12), 'b')]
nodes = [h.make_node('MatMul', ['x', 'm'], ['mm']), h.make_node('Add', ['mm', 'b'], ['y'])]
save('pw_matmul', nodes, inits, [h.make_tensor_value_info('x', T.FLOAT, [1, 900, 8])], ['y'])
# A conv in CHW (3D input, no batch)
