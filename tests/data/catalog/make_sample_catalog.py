#!/usr/bin/env python3
"""Builds the bundled sample catalog (images/, queries/, catalog.jsonl, queries.jsonl) from Debian packages.

Run once on a machine with `apt-get install opencv-doc python3-skimage` and `pip install pillow==11.0.0`; the outputs
are committed. Photos are shrunk to at most 512 px and stored as JPEG quality 88. Sources and licences: SOURCES.md.
Queries are the second views of catalog products: a different photo of the same object, never in the catalog.
"""
import json
from pathlib import Path
from PIL import Image

OPENCV = Path("/usr/share/doc/opencv-doc/examples/data")
SKIMAGE = Path("/usr/lib/python3/dist-packages/skimage/data")
OUT = Path(__file__).resolve().parent

# id, title, category, price, brand, source image, attributes, query image (another view) or None
PRODUCTS = [
    ("aloe-pot", "Aloe vera in terracotta pot", "Home/Garden/Plants", 24.90, "GreenCorner", OPENCV / "aloeL.jpg", {"height": "35 cm"}, OPENCV / "aloeR.jpg"),
    ("notebook-green-band", "Black notebook with green elastic band", "Office/Stationery/Notebooks", 12.50, "Penmark", OPENCV / "ela_original.jpg", {"pages": "192", "colour": "black"}, OPENCV / "ela_modified.jpg"),
    ("bastoncini-box", "Bastoncini breadsticks, box of 250 g", "Grocery/Bakery/Breadsticks", 2.99, "Forno Antico", OPENCV / "box.png", {"weight": "250 g"}, OPENCV / "box_in_scene.png"),
    ("programming-books", "Programming books bundle", "Books/Computing", 59.00, None, OPENCV / "left.jpg", {"format": "paperback"}, OPENCV / "right.jpg"),
    ("graffiti-print", "Graffiti wall art print", "Art/Prints/Street art", 39.00, "UrbanWalls", OPENCV / "graf1.png", {"size": "70x50 cm"}, OPENCV / "graf3.png"),
    ("rubber-whale-set", "Rubber whale and toy set", "Toys/Bath toys", 17.95, "Splash", OPENCV / "rubberwhale1.png", {"age": "3+"}, OPENCV / "rubberwhale2.png"),
    ("suzanne-figurine", "Suzanne monkey head figurine", "Toys/Figurines", 14.00, "Blendworks", OPENCV / "Blender_Suzanne1.jpg", {"material": "resin"}, OPENCV / "Blender_Suzanne2.jpg"),
    ("motorcycle-red", "Red sport motorcycle", "Vehicles/Motorcycles", 8990.00, "Moto", SKIMAGE / "motorcycle_left.png", {"engine": "600 cc"}, SKIMAGE / "motorcycle_right.png"),
    ("cappuccino-cup", "Cappuccino cup and saucer", "Home/Kitchen/Cups", 9.90, "Caffè Casa", SKIMAGE / "coffee.png", {"volume": "180 ml", "colour": "white"}, None),
    ("orange", "Navel orange", "Grocery/Fruit/Citrus", 0.45, None, OPENCV / "orange.jpg", {"origin": "Spain"}, None),
    ("apple-red", "Red apple", "Grocery/Fruit/Apples", 0.39, None, OPENCV / "apple.jpg", {"variety": "Gala"}, None),
    ("citrus-mix", "Citrus and kiwi mix", "Grocery/Fruit/Citrus", 4.99, None, OPENCV / "fruits.jpg", {"weight": "1 kg"}, None),
    ("candy-buttons", "Chocolate candy buttons", "Grocery/Candy", 1.49, "Choco", OPENCV / "smarties.png", {"weight": "38 g"}, None),
    ("starry-night-poster", "The Starry Night poster", "Art/Prints/Paintings", 29.00, "Museum Prints", OPENCV / "starry_night.jpg", {"size": "60x48 cm"}, None),
    ("butterfly-print", "Swallowtail butterfly photo print", "Art/Prints/Nature", 19.00, None, OPENCV / "butterfly.jpg", {"size": "30x20 cm"}, None),
    ("mandrill-poster", "Mandrill portrait poster", "Art/Prints/Nature", 24.00, None, OPENCV / "baboon.jpg", {"size": "50x50 cm"}, None),
    ("squirrel-print", "Squirrel on a branch photo print", "Art/Prints/Nature", 19.00, None, OPENCV / "squirrel_cls.jpg", {}, None),
    ("cat-canvas", "Tabby cat canvas", "Art/Prints/Pets", 34.00, None, SKIMAGE / "chelsea.png", {"size": "45x30 cm"}, None),
    ("dog-canvas", "Pekingese dog canvas", "Art/Prints/Pets", 34.00, None, OPENCV / "chicky_512.png", {}, None),
    ("rocket-poster", "Rocket launch poster", "Art/Prints/Space", 22.00, None, SKIMAGE / "rocket.jpg", {}, None),
    ("astronaut-poster", "Astronaut portrait poster", "Art/Prints/Space", 22.00, None, SKIMAGE / "astronaut.png", {}, None),
    ("circuit-board", "Microcontroller circuit board", "Electronics/Components", 49.00, "Boardworks", OPENCV / "board.jpg", {"interface": "USB"}, None),
    ("fish-sticker", "Happy fish sticker", "Kids/Stickers", 1.20, None, OPENCV / "HappyFish.jpg", {}, None),
    ("linux-sticker", "Linux logo sticker", "Kids/Stickers", 1.50, None, OPENCV / "LinuxLogo.jpg", {}, None),
    ("robot-sticker", "Graduate robot sticker", "Kids/Stickers", 1.50, None, OPENCV / "ml.png", {}, None),
    ("sudoku-book", "Sudoku puzzle book", "Books/Puzzles", 6.90, None, OPENCV / "sudoku.png", {"puzzles": "200"}, None),
    ("brick-wallpaper", "Brick effect wallpaper", "Home/Decor/Wallpaper", 18.50, "Wallcraft", SKIMAGE / "brick.png", {"roll": "10 m"}, None),
    ("gravel-mat", "Gravel pattern outdoor mat", "Home/Garden/Mats", 15.00, None, SKIMAGE / "gravel.png", {}, None),
    ("grass-turf", "Artificial grass turf", "Home/Garden/Lawn", 29.90, None, SKIMAGE / "grass.png", {"size": "1x2 m"}, None),
    ("desk-stuff", "Desk organiser starter set", "Office/Stationery/Desk", 11.00, None, OPENCV / "stuff.jpg", {}, None),
]


def save(src: Path, dst: Path):
    img = Image.open(src).convert("RGB")
    img.thumbnail((512, 512), Image.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, quality=88)


def main():
    catalog, queries = [], []
    for pid, title, category, price, brand, src, attrs, query in PRODUCTS:
        image = f"{pid}.jpg"
        save(src, OUT / "images" / image)
        rec = {"id": pid, "title": title, "image": image, "category": category, "price": price, "currency": "EUR"}
        if brand:
            rec["brand"] = brand
        rec["url"] = f"https://shop.example/p/{pid}"
        if attrs:
            rec["attributes"] = attrs
        catalog.append(rec)
        if query is not None:
            save(query, OUT / "queries" / f"{query.stem}.jpg")
            queries.append({"query": f"queries/{query.stem}.jpg", "expected": pid})
    (OUT / "catalog.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in catalog))
    (OUT / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))


if __name__ == "__main__":
    main()
