#!/usr/bin/env python3
"""Copies the small real photos used by the tests from Debian packages into tests/data/.

Run once on a machine with `apt-get install opencv-doc python3-skimage` and `pip install pillow==11.0.0`;
the outputs are committed, so tests never need these packages. Sources and licences: SOURCES.md.
"""
from pathlib import Path
from PIL import Image

OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
SKIMAGE = Path("/usr/lib/python3/dist-packages/skimage/data")
OUT = Path(__file__).resolve().parent

# name in tests/data -> source file. JPEG sources are copied byte for byte; PNG sources are re-encoded as JPEG.
PHOTOS = {
    "coffee.jpg": SKIMAGE / "coffee.png",
    "chelsea.jpg": SKIMAGE / "chelsea.png",
    "orange.jpg": OPENCV / "orange.jpg",
    "apple.jpg": OPENCV / "apple.jpg",
    "aero1.jpg": OPENCV / "aero1.jpg",
    "aero3.jpg": OPENCV / "aero3.jpg",
    "rubberwhale1.jpg": OPENCV / "rubberwhale1.png",
    "rubberwhale2.jpg": OPENCV / "rubberwhale2.png",
}


def main():
    for name, src in PHOTOS.items():
        dst = OUT / name
        if src.suffix == ".jpg":
            dst.write_bytes(src.read_bytes())
        else:
            Image.open(src).convert("RGB").save(dst, quality=90)
    # A phone-style JPEG: pixels stored sideways, EXIF Orientation 6 says "rotate 90 degrees clockwise to view".
    coffee = Image.open(SKIMAGE / "coffee.png").convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    coffee.transpose(Image.Transpose.ROTATE_90).save(OUT / "coffee_exif6.jpg", quality=90, exif=exif)
    # The same photo as PNG and WebP (lossless), for the decoder tests.
    coffee.save(OUT / "coffee.png")
    coffee.save(OUT / "coffee.webp", lossless=True)


if __name__ == "__main__":
    main()
