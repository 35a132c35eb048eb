"""Small ONNX graphs around one depthwise convolution, for src/model/depthwise.rs's tests: layouts and paddings the
op takes, and some it must leave to tract (SAME padding, a channel multiplier, a batch, a broadcasting clamp); and a
1x1 "expand" convolution in front, which the op folds in on large planes. Regenerate with `python3 tests/data/depthwise/gen.py` (onnx and numpy; seeded)."""
import os
import numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(0)
def model(name, C, H, W, k, stride, pads=None, auto_pad=None, bias=True, clip=True, extra=None, mult=1, N=1, max_const=None, max_first=False, conv_out_too=False, expand=None):
    kh, kw = k
    nodes=[]; inits=[]
    src, channels_in = 'x', C
    if expand is not None:
        # (input channels, clip after it, its output also a model output)
        ce, eclip, eout = expand
        inits.append(nh.from_array(rng.standard_normal((C,ce,1,1)).astype(np.float32),'we'))
        inits.append(nh.from_array(rng.standard_normal(C).astype(np.float32),'be'))
        nodes.append(h.make_node('Conv', ['x','we','be'], ['e'], kernel_shape=[1,1]))
        src, channels_in = 'e', ce
        if eclip:
            inits.append(nh.from_array(np.array(0.0,dtype=np.float32),'elo'))
            inits.append(nh.from_array(np.array(6.0,dtype=np.float32),'ehi'))
            nodes.append(h.make_node('Clip', ['e','elo','ehi'], ['ec']))
            src = 'ec'
    wt = rng.standard_normal((C*mult,1,kh,kw)).astype(np.float32)
    inits.append(nh.from_array(wt,'w'))
    ins=[src,'w']
    if bias:
        inits.append(nh.from_array(rng.standard_normal(C*mult).astype(np.float32),'b')); ins.append('b')
    attrs=dict(group=C, kernel_shape=[kh,kw], strides=[stride,stride])
    if pads is not None: attrs['pads']=pads
    if auto_pad: attrs['auto_pad']=auto_pad
    nodes.append(h.make_node('Conv', ins, ['c'], **attrs))
    outs=[]
    last='c'
    if clip:
        if max_const is not None:
            inits.append(nh.from_array(np.array(max_const,dtype=np.float32),'lo'))
            inits.append(nh.from_array(np.array(6.0,dtype=np.float32),'hi'))
            nodes.append(h.make_node('Max', ['lo','c'] if max_first else ['c','lo'], ['m']))
            nodes.append(h.make_node('Min', ['m','hi'], ['y']))
        else:
            inits.append(nh.from_array(np.array(0.0,dtype=np.float32),'lo'))
            inits.append(nh.from_array(np.array(6.0,dtype=np.float32),'hi'))
            nodes.append(h.make_node('Clip', ['c','lo','hi'], ['y']))
        last='y'
    outs.append(h.make_tensor_value_info(last, T.FLOAT, None))
    if conv_out_too: outs.append(h.make_tensor_value_info('c', T.FLOAT, None))
    if expand is not None and expand[2]: outs.append(h.make_tensor_value_info(src, T.FLOAT, None))
    g = h.make_graph(nodes, name, [h.make_tensor_value_info('x',T.FLOAT,[N,channels_in,H,W])], outs, inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid('',13)])
    onnx.save(m, os.path.join(OUT, f'{name}.onnx'))
model('asym_s2_odd', 5, 9, 7, (3,3), 2, pads=[2,1,0,0])
model('asym_s1_after_big', 3, 6, 5, (3,3), 1, pads=[0,1,3,2])
model('k5_s2_pads', 4, 11, 13, (5,5), 2, pads=[2,2,2,2])
model('k3x5_s2', 4, 10, 12, (3,5), 2, pads=[1,2,1,2])
model('same_upper', 4, 9, 9, (3,3), 2, auto_pad='SAME_UPPER')
model('same_lower', 4, 9, 9, (3,3), 2, auto_pad='SAME_LOWER')
model('nobias', 4, 8, 8, (3,3), 1, pads=[1,1,1,1], bias=False)
model('mult2', 4, 8, 8, (3,3), 1, pads=[1,1,1,1], mult=2)
model('batch2', 4, 8, 8, (3,3), 1, pads=[1,1,1,1], N=2)
model('max_bcast', 4, 8, 8, (3,3), 1, pads=[1,1,1,1], max_const=np.zeros((2,1,1,1)))
model('max_first', 4, 8, 8, (3,3), 1, pads=[1,1,1,1], max_const=0.0, max_first=True)
model('conv_out_too', 4, 8, 8, (3,3), 1, pads=[1,1,1,1], conv_out_too=True)
model('many_channels', 67, 9, 10, (3,3), 2, pads=[1,1,1,1])
model('tiny', 3, 1, 1, (3,3), 2, pads=[1,1,1,1])
model('expand_clip', 7, 97, 98, (3,3), 2, pads=[1,1,1,1], expand=(5, True, False))
model('expand_noclip', 6, 96, 101, (5,5), 1, pads=[2,2,2,2], expand=(3, False, False))
model('expand_small_plane', 6, 20, 20, (3,3), 1, pads=[1,1,1,1], expand=(3, True, False))
model('expand_out_too', 6, 96, 96, (3,3), 1, pads=[1,1,1,1], expand=(3, True, True))
def dense(name, cin, C, H, W, k, stride, pads):
    """A dense convolution over a few input planes (a stem), with its ReLU6."""
    wt = rng.standard_normal((C,cin,k,k)).astype(np.float32)
    inits = [nh.from_array(wt,'w'), nh.from_array(rng.standard_normal(C).astype(np.float32),'b'),
             nh.from_array(np.array(0.0,dtype=np.float32),'lo'), nh.from_array(np.array(6.0,dtype=np.float32),'hi')]
    nodes = [h.make_node('Conv', ['x','w','b'], ['c'], kernel_shape=[k,k], strides=[stride,stride], pads=pads),
             h.make_node('Clip', ['c','lo','hi'], ['y'])]
    g = h.make_graph(nodes, name, [h.make_tensor_value_info('x',T.FLOAT,[1,cin,H,W])],
                     [h.make_tensor_value_info('y',T.FLOAT,None)], inits)
    onnx.save(h.make_model(g, opset_imports=[h.make_opsetid('',13)]), os.path.join(OUT, f'{name}.onnx'))
dense('dense_stem', 3, 8, 23, 30, 3, 2, [0,0,1,1])
dense('dense_s1', 2, 5, 9, 7, 3, 1, [1,1,1,1])
dense('dense_5in', 5, 4, 9, 9, 3, 1, [1,1,1,1])
