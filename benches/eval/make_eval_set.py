#!/usr/bin/env python3
"""Builds the `shoplens eval` data set from package-registry data only (Debian, PyPI).

    python3 benches/eval/make_eval_set.py --out target/eval-data --cache target/eval-cache

Writes DIR/catalog.jsonl, DIR/images/, DIR/queries.jsonl, DIR/queries/ and DIR/SOURCES.md (a copy of
benches/eval/SOURCES.md, which lists every source package, its version and licence).

Three kinds of content:
  * real-view:      the same physical object photographed several times (OpenCV box/cup videos, ViSP tracking
                    sequences, the BoBoT table-top frames shipped with dlib, opencv/skimage/opencv_contrib pairs).
                    One view is the catalog image, the other views are queries.
  * packshot-scene: Tux Paint photo stamps (real cut-out photos with alpha). Catalog = the object on a plain light
                    background; query = the same cut-out pasted (rotation, mild perspective, colour scale) onto a real
                    background photo (Scratch backgrounds, Tux Paint templates). No blur/noise/JPEG degradation: the
                    Rust eval adds camera effects itself.
  * distractors:    unrelated real photos in the catalog that no query expects.

Downloads (apt-get download, pip download) go to the cache and are skipped when present. Everything random is seeded
per item, file lists are sorted, JPEGs are written with fixed quality, so rebuilding gives byte-identical outputs.
Needs: numpy, pillow, opencv-python-headless (benches/eval/requirements.txt), apt-get, dpkg-deb.
"""
import argparse
import hashlib
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

import cv2

HERE = Path(__file__).resolve().parent
SEED = "shoplens-eval-v1"
CATALOG_MAX = 640
CATALOG_QUALITY = 90
QUERY_MAX = 1024
QUERY_QUALITY = 92
N_PACKSHOT_OBJECTS = 260  # Tux Paint photo stamps used as packshot-scene objects; the other photo stamps are distractors

# Debian packages: (name, pinned version, release). A pinned version that the mirror no longer has falls back to the
# current candidate with a warning (the summary then says so; SOURCES.md records the versions used to build v1).
DEBS = {
    "opencv-doc": ("4.6.0+dfsg-12", "bookworm"),
    "python3-skimage": ("0.19.3-8", "bookworm"),
    "visp-images-data": ("3.5.0-1", "bookworm"),
    "libdlib19.1": ("19.24+dfsg-1", "bookworm"),
    "tuxpaint-stamps-default": ("2022.06.04-1", "bookworm"),
    "tuxpaint-data": ("1:0.9.28-sdl2-1", "bookworm"),
    "scratch": ("1.4.0.6~dfsg1-6.1", "bookworm"),
    "kphotoalbum": ("5.9.1-1", "bookworm"),
    "mate-backgrounds": ("1.26.0-1", "bookworm"),
    "plasma-workspace-wallpapers": ("4:5.27.5-2", "bookworm"),
    "wordpress-theme-twentytwentyfive": ("6.8.12+dfsg1-0+deb13u1", "trixie"),
}
# Installed copies are used when present (same files as the package).
INSTALLED = {
    "opencv-doc": "/usr/share/doc/opencv-doc",
    "python3-skimage": "/usr/lib/python3/dist-packages/skimage",
}
PYPI_SDIST = ("opencv-contrib-python", "5.0.0.93")

BRANDS = ["Nordvik", "Casa Lumo", "Brightfield", "Kettle & Co", "Alpenrot", "Mira", "Oakhollow", "Tidewater",
          "Pico", "Silvan", "Maison Berle", "Quarto", "Hollis", "Verdant", "Ostara", "Fjelda"]

WARNINGS = []


def log(msg):
    print(msg, flush=True)


def item_rng(*key):
    """A random generator that depends only on SEED and the key (stable when other items change)."""
    return random.Random(hashlib.sha256(("|".join([SEED, *map(str, key)])).encode()).hexdigest())


# ---------------------------------------------------------------------------------------------------------------------
# fetching
# ---------------------------------------------------------------------------------------------------------------------

class Fetcher:
    def __init__(self, cache):
        self.cache = Path(cache).resolve()
        self.debs = self.cache / "debs"
        self.x = self.cache / "x"
        self.debs.mkdir(parents=True, exist_ok=True)
        self.x.mkdir(parents=True, exist_ok=True)
        self.versions = {}

    def _trixie_conf(self):
        t = self.cache / "trixie-apt"
        conf = t / "apt.conf"
        for d in ("lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/empty"):
            (t / d).mkdir(parents=True, exist_ok=True)
        (t / "etc/sources.list").write_text("deb http://deb.debian.org/debian trixie main\n")
        conf.write_text("".join(f'{k} "{v}";\n' for k, v in [
            ("Dir::Etc::SourceList", t / "etc/sources.list"), ("Dir::Etc::SourceParts", t / "etc/empty"),
            ("Dir::Etc::Parts", t / "etc/apt.conf.d"), ("Dir::State::Lists", t / "lists"), ("Dir::Cache", t / "cache")]))
        if not any((t / "lists").glob("*Packages*")):
            subprocess.run(["apt-get", "update", "-o", "Acquire::Languages=none"], check=True,
                           env={**os.environ, "APT_CONFIG": str(conf)}, stdout=subprocess.DEVNULL)
        return conf

    def deb(self, pkg):
        """Extracts package `pkg` (downloading its .deb if needed) and returns the extraction root."""
        root = self.x / pkg
        marker = root / ".extracted"
        if marker.exists():
            self.versions[pkg] = marker.read_text().strip()
            return root
        version, release = DEBS[pkg]
        debs = sorted(self.debs.glob(f"{pkg}_*.deb"))
        if not debs:
            env = dict(os.environ)
            if release != "bookworm":
                env["APT_CONFIG"] = str(self._trixie_conf())
            log(f"  apt-get download {pkg}={version} ({release})")
            r = subprocess.run(["apt-get", "download", f"{pkg}={version}"], cwd=self.debs, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            if r.returncode != 0:
                if release == "bookworm" and not any(Path("/var/lib/apt/lists").glob("*Packages*")):
                    subprocess.run(["apt-get", "update"], check=False, stdout=subprocess.DEVNULL)
                WARNINGS.append(f"{pkg}={version} not downloadable, used the current candidate")
                subprocess.run(["apt-get", "download", pkg], cwd=self.debs, env=env, check=True,
                               stdout=subprocess.DEVNULL)
            debs = sorted(self.debs.glob(f"{pkg}_*.deb"))
        deb = debs[-1]
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        ver = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], check=True, capture_output=True,
                             text=True).stdout.strip()
        marker.write_text(ver + "\n")
        self.versions[pkg] = ver
        return root

    def installed_or_deb(self, pkg, installed_path, inner):
        """`inner` below the installed copy when present, else below the extracted .deb."""
        p = Path(installed_path)
        if (p / inner).exists():  # minimal images may drop /usr/share/doc even for installed packages
            r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True, text=True)
            self.versions[pkg] = r.stdout.strip() or "installed"
            return p / inner
        return self.deb(pkg) / installed_path.lstrip("/") / inner

    def opencv_sdist(self, members):
        """Extracts `members` (paths below the sdist's top folder) from the opencv-contrib-python sdist on PyPI."""
        name, ver = PYPI_SDIST
        root = self.x / f"{name}-{ver}"
        top = f"opencv_contrib_python-{ver}"
        missing = [m for m in members if not (root / m).exists()]
        self.versions[name] = ver
        if not missing:
            return root
        pdir = self.cache / "pypi"
        pdir.mkdir(exist_ok=True)
        tgz = pdir / f"{top}.tar.gz"
        if not tgz.exists():
            log(f"  pip download {name}=={ver} (sdist)")
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name, "-d", str(pdir),
                            f"{name}=={ver}"], check=True, stdout=subprocess.DEVNULL)
        want = {f"{top}/{m}" for m in members}
        with tarfile.open(tgz) as tf:
            for ti in tf:
                if ti.name in want:
                    dst = root / ti.name[len(top) + 1:]
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes(tf.extractfile(ti).read())
        return root


# ---------------------------------------------------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------------------------------------------------

def to_rgb(im, bg=(255, 255, 255)):
    im = ImageOps.exif_transpose(im)
    if im.mode in ("RGBA", "LA", "P", "PA"):
        im = im.convert("RGBA")
        base = Image.new("RGBA", im.size, bg + (255,))
        base.alpha_composite(im)
        im = base
    return im.convert("RGB")


def fit(im, max_side):
    """Shrinks so the longest side is at most max_side; returns (image, scale)."""
    w, h = im.size
    s = min(1.0, max_side / max(w, h))
    if s < 1.0:
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return im, s


def slug(s):
    return re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")


class Dataset:
    def __init__(self, out):
        self.out = Path(out).resolve()
        for d in ("images", "queries"):
            if (self.out / d).exists():
                shutil.rmtree(self.out / d)
            (self.out / d).mkdir(parents=True)
        self.products = {}
        self.queries = []
        self.kinds = {}  # product id -> "real-view" | "packshot-scene" | "distractor"

    def catalog_image(self, im, name):
        im, _ = fit(to_rgb(im), CATALOG_MAX)
        rel = f"images/{name}.jpg"
        assert not (self.out / rel).exists(), rel
        im.save(self.out / rel, "JPEG", quality=CATALOG_QUALITY)
        return rel

    def product(self, pid, title, category, images, kind, brand=True):
        assert pid not in self.products, pid
        rng = item_rng("price", pid)
        price = round(rng.choice([4, 6, 9, 12, 15, 19, 24, 29, 39, 49, 59, 79, 99, 129]) * rng.uniform(0.8, 1.25))
        price = max(1.0, price - rng.choice([0.01, 0.05, 0.1, 0.51, 0.0]))
        p = {"id": pid, "title": title, "image": images[0] if len(images) == 1 else images, "category": category,
             "price": round(price, 2), "currency": "EUR"}
        if brand and rng.random() < 0.75:
            p["brand"] = rng.choice(BRANDS)
        self.products[pid] = p
        self.kinds[pid] = kind

    def query(self, im, name, expected, kind, box=None, scale_box=True):
        im = to_rgb(im)
        im, s = fit(im, QUERY_MAX)
        rel = f"queries/{name}.jpg"
        if not (self.out / rel).exists():  # several queries may share one photo (different boxes)
            im.save(self.out / rel, "JPEG", quality=QUERY_QUALITY)
        q = {"query": rel, "expected": expected}
        if box is not None:
            x, y, w, h = box
            if scale_box and s != 1.0:
                x, y, w, h = x * s, y * s, w * s, h * s
            W, H = im.size
            x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
            x1, y1 = min(W, int(round(x + w))), min(H, int(round(y + h)))
            assert x1 > x0 and y1 > y0, (name, box)
            q["box"] = [x0, y0, x1 - x0, y1 - y0]
        q["kind"] = kind
        self.queries.append(q)

    def write(self):
        with open(self.out / "catalog.jsonl", "w") as f:
            for pid in sorted(self.products):
                f.write(json.dumps(self.products[pid], ensure_ascii=False) + "\n")
        ids = set(self.products)
        for q in self.queries:
            assert q["expected"] in ids, q
        with open(self.out / "queries.jsonl", "w") as f:
            for q in sorted(self.queries, key=lambda q: (q["kind"], q["query"], q["expected"])):
                f.write(json.dumps(q) + "\n")
        shutil.copyfile(HERE / "SOURCES.md", self.out / "SOURCES.md")


def crop_margin(im, box, margin=0.15):
    x, y, w, h = box
    mx, my = w * margin, h * margin
    return im.crop((max(0, round(x - mx)), max(0, round(y - my)),
                    min(im.width, round(x + w + mx)), min(im.height, round(y + h + my))))


def video_frames(path, wanted):
    """Decodes the frames with the given indices (sequential read, so the result does not depend on seeking)."""
    cap = cv2.VideoCapture(str(path))
    out, i, last = {}, 0, max(wanted)
    while i <= last:
        ok, fr = cap.read()
        if not ok:
            break
        if i in wanted:
            out[i] = Image.fromarray(cv2.cvtColor(fr, cv2.COLOR_BGR2RGB))
        i += 1
    cap.release()
    missing = set(wanted) - set(out)
    assert not missing, (path, missing)
    return out


# ---------------------------------------------------------------------------------------------------------------------
# 1. real multi-view objects
# ---------------------------------------------------------------------------------------------------------------------

# Boxes [x, y, w, h] in the 640x480 frames. box.mp4: from an HSV threshold on the yellow box, checked by eye.
# cup.mp4: from a dark-and-grey threshold (frame 70 by hand: the hand splits the mask), checked by eye.
BOX_MP4 = {0: [298, 12, 306, 248], 40: [298, 13, 291, 236], 80: [270, 22, 294, 214], 120: [174, 30, 360, 252],
           160: [102, 60, 383, 278], 200: [182, 48, 333, 218], 240: [242, 78, 324, 216], 280: [168, 119, 332, 245],
           320: [157, 114, 335, 238], 360: [285, 79, 323, 229], 400: [302, 76, 276, 160], 440: [298, 80, 274, 162]}
CUP_MP4_CATALOG = (0, [307, 124, 107, 259])
CUP_MP4 = {50: [187, 127, 198, 284], 70: [24, 170, 286, 242], 90: [156, 94, 147, 275], 110: [290, 80, 208, 264],
           130: [359, 118, 138, 234], 150: [301, 162, 89, 200], 170: [284, 136, 96, 221], 200: [255, 89, 125, 312]}


def real_opencv_videos(ds, fx):
    html = fx.installed_or_deb("opencv-doc", INSTALLED["opencv-doc"], "opencv4/html")
    sd = fx.opencv_sdist(["opencv/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/resized_IMG_3875.JPG"])
    tmp = fx.cache / "video"
    tmp.mkdir(exist_ok=True)
    vids = {}
    for v in ("box", "cup"):
        dst = tmp / f"{v}.mp4"
        if not dst.exists():
            import gzip
            dst.write_bytes(gzip.decompress((html / f"{v}.mp4.gz").read_bytes()))
        vids[v] = dst
    # cookie box: catalog = the separate still photo of the same box, queries = 12 frames of the handheld video
    still = Image.open(sd / "opencv/samples/cpp/tutorial_code/calib3d/real_time_pose_estimation/Data/resized_IMG_3875.JPG")
    pid = "rv-galletas-birba-cookie-box"
    ds.product(pid, "Galletas Birba cookie tin box, Camprodon", "Grocery/Biscuits/Gift boxes",
               [ds.catalog_image(still, pid)], "real-view")
    for i, fr in sorted(video_frames(vids["box"], set(BOX_MP4)).items()):
        ds.query(fr, f"rv_opencv_box_f{i:03d}", pid, "real-view", BOX_MP4[i])
    # drink tumbler: catalog = crop of frame 0, queries = 8 later frames (tilted, rotated, other distances)
    pid = "rv-black-drink-tumbler"
    frames = video_frames(vids["cup"], set(CUP_MP4) | {CUP_MP4_CATALOG[0]})
    ds.product(pid, "Black drink tumbler with screw lid, 500 ml", "Home/Kitchen/Drinkware",
               [ds.catalog_image(crop_margin(frames[CUP_MP4_CATALOG[0]], CUP_MP4_CATALOG[1], 0.2), pid)], "real-view")
    for i in sorted(CUP_MP4):
        ds.query(frames[i], f"rv_opencv_cup_f{i:03d}", pid, "real-view", CUP_MP4[i])


# ViSP: boxes read off 10-px grids by hand.
VISP_MBT_CUBE = {0: [314, 203, 130, 149], 60: [323, 162, 111, 130], 108: [294, 116, 103, 115],
                 156: [292, 102, 84, 100], 216: [271, 93, 88, 101]}
VISP_DOT_CUBE = {0: [182, 75, 68, 68], 40: [150, 98, 75, 92], 60: [120, 82, 100, 113], 79: [106, 70, 120, 114]}
VISP_CASTEL_QUERIES = [0, 15, 29]


def real_visp(ds, fx):
    base = fx.deb("visp-images-data") / "usr/share/visp-images-data/ViSP-images"
    pid = "rv-photo-textured-cube"
    ds.product(pid, "Photo cube with printed pictures, 8 cm", "Home/Decor/Photo cubes",
               [ds.catalog_image(crop_margin(Image.open(base / "mbt/cube/image0000.pgm"), VISP_MBT_CUBE[0]), pid)],
               "real-view")
    for i in sorted(VISP_MBT_CUBE):
        if i:
            ds.query(Image.open(base / f"mbt/cube/image{i:04d}.pgm"), f"rv_visp_mbtcube_f{i:03d}", pid, "real-view",
                     VISP_MBT_CUBE[i])
    pid = "rv-dotted-cube"
    ds.product(pid, "Black cube with white dots, tracking target", "Toys/Games/Dice",
               [ds.catalog_image(crop_margin(Image.open(base / "cube/image.0000.pgm"), VISP_DOT_CUBE[0]), pid)],
               "real-view")
    for i in sorted(VISP_DOT_CUBE):
        if i:
            ds.query(Image.open(base / f"cube/image.{i:04d}.pgm"), f"rv_visp_dotcube_f{i:03d}", pid, "real-view",
                     VISP_DOT_CUBE[i])
    # toy castle: catalog = the overview photo (its red annotation markers inpainted), queries = close-up RGB-D frames
    # where the castle fills the whole frame (no box).
    pid = "rv-toy-castle-model"
    a = np.asarray(Image.open(base / "mbt-depth/castel/chateau.ppm").convert("RGB"))
    ai = a.astype(int)
    mask = ((np.abs(ai[..., 0] - ai[..., 1]) > 30) | (np.abs(ai[..., 0] - ai[..., 2]) > 30)).astype(np.uint8) * 255
    mask = cv2.dilate(mask, np.ones((17, 17), np.uint8))  # also covers the white label boxes around the digits
    clean = cv2.inpaint(cv2.cvtColor(a, cv2.COLOR_RGB2BGR), mask, 5, cv2.INPAINT_TELEA)
    clean = Image.fromarray(cv2.cvtColor(clean, cv2.COLOR_BGR2GRAY))
    ds.product(pid, "Toy castle model on rock base", "Toys/Models/Buildings", [ds.catalog_image(clean, pid)],
               "real-view")
    for i in VISP_CASTEL_QUERIES:
        ds.query(Image.open(base / f"mbt-depth/castel/castel/image_{i:04d}.pgm"), f"rv_visp_castel_f{i:03d}", pid,
                 "real-view")


# BoBoT frames (dlib examples/video_frames, 320x240): catalog crop from frame 140, queries = other frames with the
# product's box. Boxes read off 10-px grids by hand (rough to a few pixels: the products are 15-80 px).
BOBOT_CATALOG_FRAME = 140
BOBOT = {
    "juice-carton": ("Fruit juice carton, 1 l", "Grocery/Drinks/Juice",
                     {140: [178, 53, 36, 82], 100: [74, 72, 36, 80], 180: [179, 72, 28, 64], 220: [64, 104, 24, 54],
                      250: [240, 92, 25, 55]}),
    "glass-bottle": ("Brown glass bottle, 0.33 l", "Grocery/Drinks/Bottles",
                     {140: [114, 75, 18, 62], 100: [10, 97, 21, 61], 180: [130, 89, 14, 49], 220: [21, 118, 15, 43],
                      250: [196, 103, 13, 44]}),
    "biscuit-pack": ("Chocolate biscuit pack", "Grocery/Biscuits/Packs",
                     {140: [100, 140, 82, 58], 100: [0, 160, 80, 61], 180: [121, 138, 63, 38], 220: [13, 160, 57, 30],
                      250: [189, 146, 51, 30]}),
    "boxed-gadget": ("Boxed electronic gadget, white box", "Electronics/Accessories/Boxed",
                     {140: [243, 140, 62, 58], 100: [140, 155, 61, 56], 180: [231, 134, 48, 40],
                      220: [107, 153, 40, 31]}),
    "black-logo-mug": ("Black mug with white logo", "Home/Kitchen/Mugs",
                       {140: [228, 82, 30, 28], 100: [128, 96, 32, 29], 180: [219, 98, 25, 21],
                        220: [100, 127, 22, 16]}),
    "dark-tall-mug": ("Dark tall mug", "Home/Kitchen/Mugs",
                      {140: [260, 76, 40, 32], 100: [160, 88, 42, 32], 180: [245, 90, 27, 27],
                       220: [122, 119, 24, 22]}),
}


def real_bobot(ds, fx):
    vf = fx.deb("libdlib19.1") / "usr/share/doc/libdlib19.1/examples/video_frames"
    for key, (title, cat, boxes) in BOBOT.items():
        pid = f"rv-bobot-{key}"
        cat_im = crop_margin(Image.open(vf / f"frame_{BOBOT_CATALOG_FRAME:06d}.jpg"), boxes[BOBOT_CATALOG_FRAME])
        ds.product(pid, title, cat, [ds.catalog_image(cat_im, pid)], "real-view")
        for f in sorted(boxes):
            if f != BOBOT_CATALOG_FRAME:
                # one file per frame, shared by the products seen in it; the box says which product is meant
                ds.query(Image.open(vf / f"frame_{f:06d}.jpg"), f"rv_bobot_f{f:03d}", pid, "real-view", boxes[f])


# Same-object pairs: (id, title, category, catalog file, [(query file, box or None)]). None = the object fills the
# frame (or is a whole scene). Boxes by hand on grids.
def real_pairs(ds, fx):
    cv = fx.installed_or_deb("opencv-doc", INSTALLED["opencv-doc"], "examples/data")
    sk = fx.installed_or_deb("python3-skimage", INSTALLED["python3-skimage"], "data")
    sfm = "opencv_contrib/modules/sfm/samples/data/images"
    sd = fx.opencv_sdist([f"{sfm}/resized_IMG_{i}.jpg" for i in (2889, 2890, 2891, 2892)])
    pairs = [
        ("rv-aloe-vera-pot", "Aloe vera in terracotta pot", "Home/Garden/Plants", cv / "aloeL.jpg",
         [(cv / "aloeR.jpg", None)]),
        ("rv-bastoncini-box", "Bastoncini almond cookies, box of 250 g", "Grocery/Biscuits/Boxes", cv / "box.png",
         [(cv / "box_in_scene.png", [100, 160, 175, 140])]),
        ("rv-programming-books", "Programming and electronics books bundle", "Books/Computing", cv / "left.jpg",
         [(cv / "right.jpg", [218, 95, 338, 330])]),
        ("rv-red-motorcycle", "Red Yamaha Maxim motorcycle", "Vehicles/Motorcycles", sk / "motorcycle_left.png",
         [(sk / "motorcycle_right.png", [45, 100, 583, 340])]),
        ("rv-rubber-whale-toys", "Rubber whale and toy blocks set", "Toys/Bath toys", cv / "rubberwhale1.png",
         [(cv / "rubberwhale2.png", None)]),
        ("rv-notebook-green-band", "Black notebook with green elastic band", "Office/Stationery/Notebooks",
         cv / "ela_original.jpg", [(cv / "ela_modified.jpg", None)]),
        ("rv-graffiti-wall-print", "Graffiti wall, photo print", "Home/Wall art/Street art", cv / "graf1.png",
         [(cv / "graf3.png", None)]),
        ("rv-leuven-street-print", "Leuven beguinage street, photo print", "Home/Wall art/Cities", cv / "leuvenA.jpg",
         [(cv / "leuvenB.jpg", None)]),
        ("rv-sagrada-familia-print", "Sagrada Familia facade, photo print", "Home/Wall art/Landmarks",
         sd / sfm / "resized_IMG_2889.jpg", [(sd / sfm / f"resized_IMG_{i}.jpg", None) for i in (2890, 2891, 2892)]),
    ]
    def load(f):
        im = Image.open(f)
        if "resized_IMG_" in str(f):  # the sfm sample photos are stored lying on their side (no EXIF tag)
            im = im.transpose(Image.ROTATE_270)
        return im

    for pid, title, cat, cat_file, qs in pairs:
        ds.product(pid, title, cat, [ds.catalog_image(load(cat_file), pid)], "real-view")
        for qf, box in qs:
            ds.query(load(qf), f"rv_pair_{Path(qf).stem}", pid, "real-view", box)


# ---------------------------------------------------------------------------------------------------------------------
# 2. packshot vs scene (Tux Paint photo stamps)
# ---------------------------------------------------------------------------------------------------------------------

# The photo test: `top` = share of opaque pixels in the 16 most common colours (6-bit); photos < 0.32, clipart above.
# The two lists below come from looking at contact sheets of all 578 candidate stamps sorted by `top`.
TUX_PHOTO_TOP = 0.32
TUX_NOT_PHOTO = {  # clipart/drawings that pass the colour test, and tiny texture swatches
    "seasonal/easter/wrapped_chocolate_easter_egg_2.png", "seasonal/easter/wrapped_chocolate_easter_egg.png",
    "animals/fish/stripedfish.png", "animals/mammals/aquatic/whale.png", "food/vegetables/pattypan_squash.png",
    "animals/mammals/aquatic/orca.png", "seasonal/easter/bunny.png", "clothes/button.png", "vehicles/auto/sedan.png",
    "vehicles/auto/truck.png", "seasonal/easter/butterfly.png", "seasonal/easter/bluebird.png",
    # real photos, but mostly translucent (nearly invisible when pasted, no product shape)
    "seasonal/newyears/fireworks.png", "seasonal/newyears/fireworks2.png", "naturalforces/explosion.png",
    "naturalforces/fire.png",
}
TUX_PHOTO_EXTRA = {  # photos with large flat areas (coins, moon, white objects) that fail the colour test
    "animals/birds/heron_greatblue_flying.png", "animals/insects/Woodlouse.png", "food/fruit/avocado.png",
    "symbols/money/euro/coins/005.png", "household/Lightbulb.png", "town/monuments/inukshuk-photo.png",
    "sports/football.png", "household/arttools/pen_dryerase.png",
    "plants/flowers/bolsom.png", "plants/flowers/flower5.png", "plants/flowers/flower2.png",
    "space/apollo_lander.png", "household/wheelie_bin.png", "symbols/money/japanese/yen001.png",
    "animals/mammals/bears/bear.png", "vehicles/auto/sportscar2.png", "seasonal/halloween/grave-i.png",
    "animals/mammals/bovines/bull.png", "animals/birds/tucan.png", "animals/mammals/dogs/dog.png",
    "household/tools/paintbrush_large.png", "animals/mammals/elephant.png", "animals/lizards/iguana.png",
    "animals/birds/magpie.png", "food/vegetables/eggplant.png", "seasonal/halloween/grave-e.png",
    "animals/mammals/rodents/mouse.png", "hobbies/music/percussion/cymbal_crash.png", "space/moon/moon_3qt.png",
    "symbols/money/us/coins/050kennedy-halfdollar.png", "household/toilet.png", "seasonal/halloween/grave-d.png",
    "plants/flowers/rose.png", "space/moon/moon_full.png", "animals/mammals/bovines/yak.png",
    "symbols/money/us/coins/005nickel.png", "animals/mammals/rhino_black.png", "symbols/money/us/coins/025quarter.png",
    "animals/mammals/apes/gorilla.png", "symbols/money/us/coins/010dime.png", "seasonal/halloween/grave-j.png",
}
TUX_SKIP_DIRS = ("alphabets", "symbols/math", "symbols/shapes", "symbols/music", "symbols/chess", "symbols/faces",
                 "symbols/money/00_symbols", "roadsigns", "town/flags")
TUX_MIN_SIDE = 64       # smaller stamps are not used at all
TUX_OBJECT_SIDE = 100   # packshot-scene objects need at least this longer side


def tux_top(a):
    op = a[..., 3] > 200
    rgb = (a[..., :3][op] // 4).astype(np.int32)
    if len(rgb) == 0:
        return 1.0
    _, cnt = np.unique(rgb[:, 0] * 4096 + rgb[:, 1] * 64 + rgb[:, 2], return_counts=True)
    return float(np.sort(cnt)[::-1][:16].sum() / len(rgb))


def tux_title(png):
    txt = png.with_suffix(".txt")
    t = ""
    if txt.exists():
        t = txt.read_text(encoding="utf-8", errors="replace").splitlines()[0].strip()
    if not t or "=" in t:
        t = png.stem.replace("_", " ").replace("-", " ")
    t = re.sub(r"^(an?|the|some)\s+", "", t.strip(), flags=re.I).rstrip(".!")
    return t[:1].upper() + t[1:]


def tux_category(rel):
    parts = [p for p in Path(rel).parent.parts]
    if parts[:2] == ["symbols", "money"]:
        return "Collectibles/Coins/" + parts[2].title()
    return "/".join(p.replace("_", " ").title() for p in parts[:3])


def tux_photo_stamps(fx):
    """Sorted list of (rel path, RGBA image) of the photo stamps, near-duplicates (mirrored copies) removed."""
    base = fx.deb("tuxpaint-stamps-default") / "usr/share/tuxpaint/stamps"
    kept, sigs = [], []
    for png in sorted(base.rglob("*.png")):
        rel = png.relative_to(base).as_posix()
        if any(k in rel for k in TUX_SKIP_DIRS) or "/cartoon/" in rel or "mirror" in rel.lower():
            continue
        if rel.startswith("symbols/") and "/coins/" not in rel and rel not in TUX_PHOTO_EXTRA:
            continue
        im = Image.open(png).convert("RGBA")
        if max(im.size) < TUX_MIN_SIDE or rel in TUX_NOT_PHOTO:
            continue
        a = np.asarray(im)
        if not (tux_top(a) < TUX_PHOTO_TOP or rel in TUX_PHOTO_EXTRA):
            continue
        bb = im.getchannel("A").point(lambda v: 255 if v > 20 else 0).getbbox()
        if bb is None:
            continue
        im = im.crop(bb)
        sig = np.asarray(to_rgb(im, (128, 128, 128)).convert("L").resize((16, 16), Image.BILINEAR), dtype=np.float32)
        if any(np.abs(sig - s).mean() < 6 or np.abs(sig[:, ::-1] - s).mean() < 6 for s in sigs):
            continue  # same photo again (mirrored or re-saved)
        sigs.append(sig)
        kept.append((rel, im, tux_title(png), tux_category(rel)))
    return kept


def packshot(obj, rng):
    """The cut-out centred on a plain white/light-grey square with a margin (a shop packshot)."""
    w, h = obj.size
    longer = max(w, h)
    target = min(520, max(longer, 240))
    s = target / longer
    if s != 1.0:
        obj = obj.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    side = round(target * rng.uniform(1.18, 1.3))
    bg = rng.choice([(255, 255, 255), (250, 250, 250), (244, 244, 244), (236, 236, 238)])
    canvas = Image.new("RGBA", (side, side), bg + (255,))
    canvas.alpha_composite(obj, ((side - obj.width) // 2, (side - obj.height) // 2))
    return canvas.convert("RGB")


def paste_in_scene(obj, scene, rng):
    """Pastes the RGBA cut-out onto the scene: 35-75% of the shorter side, +-15 deg, mild perspective, colour scale.
    Returns (image, box)."""
    W, H = scene.size
    # colour scale (per channel gain and overall brightness), applied to the object only
    a = np.asarray(obj).astype(np.float32)
    gain = np.array([rng.uniform(0.92, 1.08) for _ in range(3)], np.float32) * rng.uniform(0.85, 1.12)
    a[..., :3] = np.clip(a[..., :3] * gain, 0, 255)
    # scale so that the longer side is 35-75% of the scene's shorter side
    target = rng.uniform(0.35, 0.75) * min(W, H)
    s = target / max(obj.size)
    w, h = max(2, round(obj.width * s)), max(2, round(obj.height * s))
    a = cv2.resize(a, (w, h), interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_CUBIC)
    # rotation + mild perspective as one homography onto a padded canvas
    ang = math.radians(rng.uniform(-15, 15))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    c, sn = math.cos(ang), math.sin(ang)
    cx, cy = w / 2, h / 2
    dst = []
    for x, y in src:
        jx, jy = rng.uniform(-0.06, 0.06) * w, rng.uniform(-0.06, 0.06) * h
        x, y = x + jx - cx, y + jy - cy
        dst.append([c * x - sn * y, sn * x + c * y])
    dst = np.float32(dst)
    dst -= dst.min(axis=0)
    ow, oh = int(math.ceil(dst[:, 0].max())) + 1, int(math.ceil(dst[:, 1].max())) + 1
    M = cv2.getPerspectiveTransform(src, dst)
    # premultiplied alpha for clean edges
    pm = a.copy()
    pm[..., :3] *= pm[..., 3:4] / 255.0
    warped = cv2.warpPerspective(pm, M, (ow, oh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                 borderValue=(0, 0, 0, 0))
    alpha = warped[..., 3:4] / 255.0
    ys, xs = np.nonzero(warped[..., 3] > 40)
    bx0, by0, bx1, by1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    warped, alpha = warped[by0:by1, bx0:bx1], alpha[by0:by1, bx0:bx1]
    oh, ow = warped.shape[:2]
    if ow > W or oh > H:  # very tall/wide objects after rotation: shrink to fit
        f = min(W / ow, H / oh) * 0.98
        warped = cv2.resize(warped, (max(2, int(ow * f)), max(2, int(oh * f))), interpolation=cv2.INTER_AREA)
        alpha = warped[..., 3:4] / 255.0
        oh, ow = warped.shape[:2]
    px, py = rng.randint(0, W - ow), rng.randint(0, H - oh)
    out = np.asarray(scene).astype(np.float32)
    region = out[py:py + oh, px:px + ow]
    out[py:py + oh, px:px + ow] = warped[..., :3] + region * (1 - alpha)
    img = Image.fromarray(np.clip(np.round(out), 0, 255).astype(np.uint8))
    ys, xs = np.nonzero(alpha[..., 0] > 0.5)
    box = [int(px + xs.min()), int(py + ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)]
    return img, box


SCRATCH_DRAWINGS = {"party-room", "room1", "room2", "room3", "spotlight-stage", "woods-and-bench", "school2"}


def scene_backgrounds(fx):
    """Real photos used only as query backgrounds (never in the catalog): Scratch backgrounds, Tux Paint templates."""
    bgs = []
    sb = fx.deb("scratch") / "usr/share/scratch/Media/Backgrounds"
    for f in sorted(sb.rglob("*.jpg")):
        if f.stem not in SCRATCH_DRAWINGS:
            bgs.append(("scratch/" + f.relative_to(sb).as_posix(), f))
    tp = fx.deb("tuxpaint-data") / "usr/share/tuxpaint/templates"
    for f in sorted(tp.glob("*.jpg")):
        bgs.append(("tuxpaint-templates/" + f.name, f))
    return bgs


def packshot_scene(ds, fx, stamps):
    """Returns the stamps not used as objects (they become distractors)."""
    bgs = scene_backgrounds(fx)
    bg_cache = {}
    eligible = [s for s in stamps if max(s[1].size) >= TUX_OBJECT_SIDE]
    order = sorted(eligible, key=lambda s: hashlib.sha256((SEED + s[0]).encode()).hexdigest())
    objects = sorted(order[:N_PACKSHOT_OBJECTS], key=lambda s: s[0])
    used = {s[0] for s in objects}
    for rel, obj, title, cat in objects:
        pid = "ps-" + slug(Path(rel).with_suffix("").as_posix())
        rng = item_rng("packshot", rel)
        ds.product(pid, title, cat, [ds.catalog_image(packshot(obj, rng), pid)], "packshot-scene")
        nq = 2 if rng.random() < 0.35 else 1
        for k in range(nq):
            bname, bpath = bgs[rng.randrange(len(bgs))]
            if bname not in bg_cache:
                bg_cache[bname] = fit(to_rgb(Image.open(bpath)), 800)[0]
            img, box = paste_in_scene(obj, bg_cache[bname], rng)
            ds.query(img, f"ps_{pid[3:]}_{k}", pid, "packshot-scene", box, scale_box=False)
    return [s for s in stamps if s[0] not in used]


# ---------------------------------------------------------------------------------------------------------------------
# 3. distractors
# ---------------------------------------------------------------------------------------------------------------------

def distractor(ds, pid, title, cat, im):
    ds.product(pid, title, cat, [ds.catalog_image(im, pid)], "distractor")


def distractors_tux(ds, rest):
    for rel, obj, title, cat in rest:
        pid = "tx-" + slug(Path(rel).with_suffix("").as_posix())
        distractor(ds, pid, title, cat, packshot(obj, item_rng("packshot", rel)))


def nice(stem):
    t = re.sub(r"[_\-]+", " ", stem).strip()
    t = re.sub(r"\b(square|image|closeup)\b", "", t).strip()
    return (t[:1].upper() + t[1:]) or stem


OPENCV_DISTRACTORS = {  # file: category
    "HappyFish.jpg": "Pets/Aquarium", "apple.jpg": "Grocery/Fruit", "baboon.jpg": "Home/Wall art/Animals",
    "board.jpg": "Home/Wall art/Misc", "building.jpg": "Home/Wall art/Cities", "butterfly.jpg": "Home/Wall art/Nature",
    "cards.png": "Toys/Games/Cards", "chicky_512.png": "Toys/Plush", "fruits.jpg": "Grocery/Fruit",
    "home.jpg": "Home/Wall art/Landmarks", "messi5.jpg": "Sports/Football", "orange.jpg": "Grocery/Fruit",
    "smarties.png": "Grocery/Sweets", "squirrel_cls.jpg": "Home/Wall art/Animals",
    "starry_night.jpg": "Home/Wall art/Paintings", "stuff.jpg": "Office/Desk", "sudoku.png": "Books/Puzzles",
    "licenseplate_motion.jpg": "Vehicles/Cars", "text_defocus.jpg": "Books/Misc", "aero1.jpg": "Home/Wall art/Aerial",
    "aero3.jpg": "Home/Wall art/Aerial", "basketball1.png": "Sports/Basketball",
}
SKIMAGE_DISTRACTORS = {
    "astronaut.png": "Home/Wall art/Space", "camera.png": "Electronics/Cameras", "chelsea.png": "Pets/Cats",
    "coffee.png": "Grocery/Coffee", "coins.png": "Collectibles/Coins", "hubble_deep_field.jpg": "Home/Wall art/Space",
    "rocket.jpg": "Home/Wall art/Space", "brick.png": "DIY/Building materials", "grass.png": "Home/Garden/Lawn",
    "gravel.png": "Home/Garden/Gravel",
}  # moon.png and page.png left out: scikit-image states no licence for them
OPENCV_SDIST_DISTRACTORS = {
    "opencv/samples/data/castle.jpg": "Home/Wall art/Landmarks",
    "opencv/samples/data/gauge-1.jpg": "DIY/Tools/Gauges",
    "opencv_contrib/modules/hfs/samples/data/000.jpg": "Home/Wall art/Animals",
    "opencv_contrib/modules/hfs/samples/data/001.jpg": "Home/Wall art/Nature",
    "opencv_contrib/modules/hfs/samples/data/002.jpg": "Home/Wall art/Nature",
    **{f"opencv_contrib/modules/text/samples/scenetext0{i}.jpg": "Home/Wall art/Cities" for i in range(1, 7)},
}
WORDPRESS_SKIP = {  # mock-ups, and second crops of photos already taken
    "book-image-landing", "book-image", "services-subscriber-photo", "coming-soon-bg-image", "poster-image-background",
    "grid-flower-1", "botany-flowers-closeup",
}
PLASMA_PHOTOS = ["BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf", "Grey",
                 "Kite", "OneStandsOut", "Path", "Volna", "summer_1am"]
MATE_PHOTOS = ["nature/" + n for n in ("Aqua", "Blinds", "Dune", "FreshFlower", "Garden", "GreenMeadow", "LadyBird",
                                       "RainDrops", "Storm", "TwoWings", "Wood", "YellowFlower")] + \
              ["desktop/GreenTraditional"]


def distractors_photos(ds, fx):
    cv = fx.installed_or_deb("opencv-doc", INSTALLED["opencv-doc"], "examples/data")
    for f, cat in sorted(OPENCV_DISTRACTORS.items()):
        distractor(ds, "dx-opencv-" + slug(Path(f).stem), nice(Path(f).stem), cat, Image.open(cv / f))
    sk = fx.installed_or_deb("python3-skimage", INSTALLED["python3-skimage"], "data")
    for f, cat in sorted(SKIMAGE_DISTRACTORS.items()):
        distractor(ds, "dx-skimage-" + slug(Path(f).stem), nice(Path(f).stem), cat, Image.open(sk / f))
    sd = fx.opencv_sdist(sorted(OPENCV_SDIST_DISTRACTORS))
    for f, cat in sorted(OPENCV_SDIST_DISTRACTORS.items()):
        name = Path(f).stem if "hfs" not in f else "hfs-" + Path(f).stem
        distractor(ds, "dx-opencv-contrib-" + slug(name), nice(name), cat, Image.open(sd / f))
    visp = fx.deb("visp-images-data") / "usr/share/visp-images-data/ViSP-images"
    distractor(ds, "dx-visp-klimt", "Klimt painting, print", "Home/Wall art/Paintings", Image.open(visp / "Klimt/Klimt.ppm"))
    distractor(ds, "dx-visp-solvay-1927", "Solvay conference 1927, print", "Home/Wall art/History",
               Image.open(visp / "Solvay/Solvay_conference_1927_Version2_1280x881.jpg"))
    wp = fx.deb("wordpress-theme-twentytwentyfive") / "usr/share/wordpress/wp-content/themes/twentytwentyfive/assets/images"
    for f in sorted(wp.glob("*.webp")):
        if f.stem not in WORDPRESS_SKIP:
            distractor(ds, "dx-wp-" + slug(f.stem), nice(f.stem), "Home/Wall art/Vintage prints", Image.open(f))
    kp = fx.deb("kphotoalbum") / "usr/share/kphotoalbum/demo"
    for f in sorted(kp.glob("*.jpg")):
        if f.stem[0].islower() and f.stem not in ("search", "qt-logo"):
            distractor(ds, "dx-kphotoalbum-" + slug(f.stem), "Holiday photo print: " + nice(f.stem),
                       "Home/Photo prints", Image.open(f))
    mb = fx.deb("mate-backgrounds") / "usr/share/backgrounds/mate"
    for n in MATE_PHOTOS:
        distractor(ds, "dx-mate-" + slug(Path(n).name), nice(Path(n).name) + ", poster", "Home/Wall art/Nature",
                   Image.open(mb / f"{n}.jpg"))
    pw = fx.deb("plasma-workspace-wallpapers") / "usr/share/wallpapers"
    for n in PLASMA_PHOTOS:
        imgs = sorted((p for p in (pw / n / "contents/images").iterdir() if p.suffix in (".jpg", ".png")),
                      key=lambda p: (p.stat().st_size, p.name))
        distractor(ds, "dx-plasma-" + slug(n), nice(re.sub(r"(?<=[a-z])(?=[A-Z])", " ", n)) + ", poster",
                   "Home/Wall art/Scenes", Image.open(imgs[0]))


# ---------------------------------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="target/eval-data")
    ap.add_argument("--cache", default="target/eval-cache")
    args = ap.parse_args()
    t0 = time.time()
    cv2.setNumThreads(1)  # deterministic and polite
    fx = Fetcher(args.cache)
    ds = Dataset(args.out)
    log("real-view objects ...")
    real_opencv_videos(ds, fx)
    real_visp(ds, fx)
    real_bobot(ds, fx)
    real_pairs(ds, fx)
    log("packshot-scene objects (Tux Paint stamps) ...")
    stamps = tux_photo_stamps(fx)
    rest = packshot_scene(ds, fx, stamps)
    log("distractors ...")
    distractors_tux(ds, rest)
    distractors_photos(ds, fx)
    ds.write()

    kinds = {}
    for pid, k in ds.kinds.items():
        kinds[k] = kinds.get(k, 0) + 1
    qk = {}
    for q in ds.queries:
        qk[q["kind"]] = qk.get(q["kind"], 0) + 1
    log(f"\nwrote {ds.out} in {time.time() - t0:.0f} s")
    log(f"  Tux Paint photo stamps: {len(stamps)} ({kinds.get('packshot-scene', 0)} objects, {len(rest)} distractors)")
    log(f"  catalog products: {len(ds.products)}  " + ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())))
    log(f"  queries: {len(ds.queries)}  " + ", ".join(f"{k}: {v}" for k, v in sorted(qk.items())))
    log(f"  query photos: {len(list((ds.out / 'queries').glob('*.jpg')))}, "
        f"catalog photos: {len(list((ds.out / 'images').glob('*.jpg')))}")
    log("  package versions: " + ", ".join(f"{k} {v}" for k, v in sorted(fx.versions.items())))
    for w in WARNINGS:
        log("  WARNING: " + w)


if __name__ == "__main__":
    main()
