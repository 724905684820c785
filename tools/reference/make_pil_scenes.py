#!/usr/bin/env python3
"""Write the PIL-drawn shape scenes: an independent GVTBench-style test set.

The default model is trained on scenes drawn by our own renderer (`crates/gvt-scene/`). This
script draws scenes of the same vocabulary (8 shapes, 6 colour names) with a different
renderer, Pillow's `ImageDraw`, in other proportions and another style, to measure whether
the model survives drawing styles it never saw. It must never be used for training.

Outputs (paths relative to the repository root):
  tests/fixtures/pil-scenes/img/0001.png .. 0300.png   the images (palette PNG)
  tests/fixtures/pil-scenes/oc.json    counting: one question per image, GVTBench's format
  tests/fixtures/pil-scenes/mci.json   existence: two per image (one "Yes.", one "No.")
  tests/fixtures/pil-scenes/scenes.json  per image: canvas, anti-aliased or not, and every
                                       object's shape, colour name and box (to split results)
  tests/fixtures/pil-scenes/README.md  what it is, how it differs, counts (written here too)

What differs from the training renderer (see `crates/gvt-scene/src/shapes.rs`, `lib.rs`):
  - white background (ours: low-saturation tones and gradients), non-square canvases
    96..256 px with aspect ratios 1:2..2:1 (ours: square); the model stretches them to its
    square input, so shapes reach it squashed up to 2x along one axis;
  - another palette: every colour near ours, none equal;
  - stars: 5 points, inner radius 0.34..0.40 or 0.50..0.56 of the outer (ours 0.45, then
    stretched to a square box), not stretched, tilted by up to 12 degrees;
  - rings: inner radius 0.30..0.75 of the outer (ours 0.5), drawn as a thick outline;
  - triangles: isosceles, height/base 0.75..1.35 (ours 1.0), a third of them rotated;
  - hearts: two circles and a triangle from their outer sides to the tip (ours: tangent
    construction in a square box), lobe spacing and tip length varied;
  - crosses: arm width 0.20..0.44 of the side (ours 0.30: half-width 0.3 of the half side);
  - diamonds: height/width 0.75..1.6 (ours 1.0);
  - half the images anti-aliased (drawn at 4x, downsampled with LANCZOS: slight ringing),
    half aliased (Pillow's own polygon and ellipse rasterisation; ours is an exact
    supersampled SDF).
Objects never overlap: their bounding boxes keep a gap of at least 4 px between each
other and 3 px from the border. Each spans at least 14 px and at least 13 px in the
model's 128-px view (so up to 26 px on a 256-px side) and at most 30% of each side.
A scene has at most 9 objects, as ours (`MAX_OBJECTS`).

Counting: the asked shape's true count is 0..9, 30 images each, with 0..min(4, 9 - count)
distractors of other shapes (at least one when the count is 0). Existence: for every image
one shape that is present and one that is absent, the shapes picked to balance the classes.

Checks done on the way: every image is re-read from its PNG and its objects are found again
as 8-connected components of non-white pixels; their number must equal the number drawn,
and each component's commonest colour must be nearest to the drawn colour.

Usage:
  /usr/bin/python3 tools/reference/make_pil_scenes.py [--sheet /tmp/pil-scenes-sheet.png]
Needs Pillow (Debian's python3-pil; else `pip install --target ~/.cache/gvt-lens/pylib pillow`
and PYTHONPATH=~/.cache/gvt-lens/pylib). Seeded and deterministic: a rerun with the same
Pillow and zlib rewrites byte-identical files. Takes under 10 s.
"""

import argparse
import json
import math
import random
import sys
from collections import Counter, deque
from pathlib import Path

import PIL
from PIL import Image, ImageChops, ImageDraw

SEED = 20250611
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "pil-scenes"

# The vocabulary of crates/gvt-scene/src/shapes.rs (singular, plural) in Shape::ALL order.
SHAPES = [
    ("circle", "circles"),
    ("square", "squares"),
    ("triangle", "triangles"),
    ("star", "stars"),
    ("cross", "crosses"),
    ("heart", "hearts"),
    ("diamond", "diamonds"),
    ("ring", "rings"),
]
PLURAL = dict(SHAPES)

# Colour names of crates/gvt-scene/src/lib.rs (Color::ALL) with their RGB there, for the
# check below, and two other shades of each for this set: near ours, never equal.
OURS = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 90, 230),
    "yellow": (245, 215, 40),
    "purple": (150, 60, 200),
    "orange": (245, 135, 30),
}
PALETTE = {
    "red": [(232, 28, 36), (204, 50, 58)],
    "green": [(28, 156, 76), (58, 182, 48)],
    "blue": [(30, 78, 212), (58, 108, 242)],
    "yellow": [(250, 224, 22), (236, 204, 58)],
    "purple": [(138, 48, 186), (164, 78, 214)],
    "orange": [(250, 146, 18), (236, 122, 42)],
}
WHITE = (255, 255, 255)

N_PER_COUNT = 30
MAX_COUNT = 9
MAX_OBJECTS = 9  # as gvt-scene's MAX_OBJECTS
MAX_DISTRACTORS = 4
MIN_SIDE, MAX_SIDE = 96, 256
MODEL_SIDE = 128  # the default model's input side
MIN_PX = 14  # smallest extent of an object on the canvas
MIN_MODEL_PX = 13  # smallest extent in the model's square view
MAX_FRACTION = 0.30  # largest extent as a share of the canvas side along that axis
GAP = 4  # least gap between two objects' bounding boxes
BORDER = 3  # least gap between a bounding box and the image border
AA_SCALE = 4
MAX_QUANT_ERROR = 8  # per channel, of the anti-aliased images' 256-colour palettes

# ---------------------------------------------------------------------------------------
# Geometry. Each builder returns (parts, (w, h)): parts in a local frame with the bounding
# box [0, w] x [0, h]; a part is ("poly", [(x, y), ...]), ("ellipse", x0, y0, x1, y1),
# ("rect", x0, y0, x1, y1) or ("ring", x0, y0, x1, y1, thickness).


def _fit(parts_pts, extra=()):
    """Shift polygon points so that their bounding box starts at 0; returns shift and size."""
    xs = [p[0] for pts in parts_pts for p in pts] + [e[0] for e in extra]
    ys = [p[1] for pts in parts_pts for p in pts] + [e[1] for e in extra]
    return -min(xs), -min(ys), max(xs) - min(xs), max(ys) - min(ys)


def rotate(points, angle):
    c, s = math.cos(angle), math.sin(angle)
    return [(x * c - y * s, x * s + y * c) for x, y in points]


def circle(rng, s):
    return [("ellipse", 0, 0, s, s)], (s, s)


def square(rng, s):
    return [("rect", 0, 0, s, s)], (s, s)


def ring(rng, s):
    ratio = rng.uniform(0.30, 0.75)
    thickness = max(3.0, s / 2 * (1 - ratio))
    return [("ring", 0, 0, s, s, thickness)], (s, s)


def triangle(rng, s):
    aspect = rng.uniform(0.75, 1.35)  # height / base
    base, height = (s, s * aspect) if aspect <= 1 else (s / aspect, s)
    pts = [(0, -height / 2), (base / 2, height / 2), (-base / 2, height / 2)]
    if rng.random() < 1 / 3:
        pts = rotate(pts, rng.uniform(-math.pi, math.pi))
    dx, dy, w, h = _fit([pts])
    if min(w, h) < 0.8 * s:  # a rotation that leaves it thin in one direction: scale it up
        k = 0.8 * s / min(w, h)
        pts = [(x * k, y * k) for x, y in pts]
        dx, dy, w, h = _fit([pts])
    return [("poly", [(x + dx, y + dy) for x, y in pts])], (w, h)


def star(rng, s):
    inner = rng.uniform(0.34, 0.40) if rng.random() < 0.5 else rng.uniform(0.50, 0.56)
    tilt = math.radians(rng.uniform(-12, 12))
    pts = []
    for k in range(10):
        a = -math.pi / 2 + k * math.pi / 5 + tilt
        r = 1.0 if k % 2 == 0 else inner
        pts.append((r * math.cos(a), r * math.sin(a)))
    dx, dy, w, h = _fit([pts])
    k = s / max(w, h)
    pts = [((x + dx) * k, (y + dy) * k) for x, y in pts]
    return [("poly", pts)], (w * k, h * k)


def cross(rng, s):
    arm = max(4.0, s * rng.uniform(0.20, 0.44))
    a0 = (s - arm) / 2
    return [("rect", 0, a0, s, a0 + arm), ("rect", a0, 0, a0 + arm, s)], (s, s)


def heart(rng, s):
    # Lobes of radius r centred at (+-c r, 0); a triangle from the lobes' outer sides at the
    # centres' height down to the tip at (0, t r).
    c = rng.uniform(0.70, 1.00)
    t = rng.uniform(1.8, 2.6)
    w_units, h_units = 2 * (c + 1), 1 + t
    r = s / max(w_units, h_units)
    w, h = w_units * r, h_units * r
    cx, cy = w / 2, r  # centre of the lobes' line
    parts = [
        ("ellipse", cx - c * r - r, 0, cx - c * r + r, 2 * r),
        ("ellipse", cx + c * r - r, 0, cx + c * r + r, 2 * r),
        ("poly", [(cx - (c + 1) * r, cy), (cx + (c + 1) * r, cy), (cx, cy + t * r)]),
    ]
    return parts, (w, h)


def diamond(rng, s):
    aspect = rng.uniform(0.75, 1.6)  # height / width
    w, h = (s, s * aspect) if aspect <= 1 else (s / aspect, s)
    return [("poly", [(w / 2, 0), (w, h / 2), (w / 2, h), (0, h / 2)])], (w, h)


BUILDERS = {
    "circle": circle,
    "square": square,
    "triangle": triangle,
    "star": star,
    "cross": cross,
    "heart": heart,
    "diamond": diamond,
    "ring": ring,
}

# ---------------------------------------------------------------------------------------
# Scenes.


def canvas_size(rng, n_objects):
    """A canvas that grows toward 256 px with the number of objects; aspect 1:2..2:1."""
    low = min(MAX_SIDE, 120 + 14 * n_objects)
    long_side = rng.randint(low, MAX_SIDE)
    ratio = math.exp(rng.uniform(0, math.log(2)))
    short_side = max(MIN_SIDE, round(long_side / ratio))
    return (long_side, short_side) if rng.random() < 0.5 else (short_side, long_side)


def extent_limits(width, height):
    """Least and most width and height of an object on this canvas."""
    lo_w = max(MIN_PX, MIN_MODEL_PX * width / MODEL_SIDE)
    lo_h = max(MIN_PX, MIN_MODEL_PX * height / MODEL_SIDE)
    return lo_w, lo_h, MAX_FRACTION * width, MAX_FRACTION * height


def make_object(rng, shape, width, height, n_objects):
    lo_w, lo_h, hi_w, hi_h = extent_limits(width, height)
    # Keep the objects' total area well under the canvas's so that they fit.
    budget = math.sqrt(0.30 * width * height / max(1, n_objects))
    for _ in range(200):
        s = rng.uniform(max(lo_w, lo_h), max(max(lo_w, lo_h) + 2, min(hi_w, hi_h, budget)))
        parts, (w, h) = BUILDERS[shape](rng, s)
        if lo_w <= w <= hi_w and lo_h <= h <= hi_h:
            return parts, (w, h)
    return None


def place(rng, sizes, width, height):
    """Top-left corners for boxes of `sizes`, largest first, no two closer than GAP."""
    order = sorted(range(len(sizes)), key=lambda i: -max(sizes[i]))
    boxes = [None] * len(sizes)
    for i in order:
        w, h = sizes[i]
        if w + 2 * BORDER > width or h + 2 * BORDER > height:
            return None
        for _ in range(400):
            x = rng.uniform(BORDER, width - BORDER - w)
            y = rng.uniform(BORDER, height - BORDER - h)
            if all(
                b is None
                or x + w + GAP <= b[0]
                or b[0] + b[2] + GAP <= x
                or y + h + GAP <= b[1]
                or b[1] + b[3] + GAP <= y
                for b in boxes
            ):
                boxes[i] = (x, y, w, h)
                break
        else:
            return None
    return boxes


def make_scene(rng, shapes):
    """Objects of `shapes` on a canvas: (width, height, [(shape, colour name, rgb, parts, box)])."""
    for _ in range(100):
        width, height = canvas_size(rng, len(shapes))
        objects = []
        for shape in shapes:
            made = make_object(rng, shape, width, height, len(shapes))
            if made is None:
                break
            objects.append((shape, made))
        else:
            boxes = place(rng, [size for _, (_, size) in objects], width, height)
            if boxes is not None:
                result = []
                for (shape, (parts, _)), box in zip(objects, boxes):
                    name = rng.choice(sorted(PALETTE))
                    rgb = rng.choice(PALETTE[name])
                    result.append((shape, name, rgb, parts, box))
                return width, height, result
    raise RuntimeError(f"could not place {shapes}")


def draw_scene(width, height, objects, antialias):
    k = AA_SCALE if antialias else 1
    image = Image.new("RGB", (width * k, height * k), WHITE)
    draw = ImageDraw.Draw(image)
    for _, _, rgb, parts, (x, y, _, _) in objects:
        for part in parts:
            kind = part[0]
            if kind == "poly":
                draw.polygon([((x + px) * k, (y + py) * k) for px, py in part[1]], fill=rgb)
            else:
                x0, y0, x1, y1 = ((x + part[1]) * k, (y + part[2]) * k,
                                  (x + part[3]) * k, (y + part[4]) * k)
                # Pillow's boxes include their last pixel: end one pixel short.
                box = [x0, y0, x1 - 1, y1 - 1]
                if kind == "rect":
                    draw.rectangle(box, fill=rgb)
                elif kind == "ellipse":
                    draw.ellipse(box, fill=rgb)
                else:
                    draw.ellipse(box, outline=rgb, width=max(1, round(part[5] * k)))
    if antialias:
        image = image.resize((width, height), Image.Resampling.LANCZOS)
    return image


def save_png(image, path):
    """A palette PNG: exact when the image has at most 256 colours (all aliased images),
    else (anti-aliased ones) the 256 colours of Pillow's max-coverage quantizer, without
    dithering, at most MAX_QUANT_ERROR off per channel; this halves the folder's size."""
    exact = image.getcolors(256) is not None
    palette_image = image.quantize(colors=256, method=Image.Quantize.MAXCOVERAGE,
                                   dither=Image.Dither.NONE)
    error = max(hi for _, hi in ImageChops.difference(palette_image.convert("RGB"), image)
                .getextrema())
    if error > (0 if exact else MAX_QUANT_ERROR):
        raise AssertionError(f"{path}: quantization error {error}")
    palette_image.save(path, format="PNG", optimize=True)
    return error


# ---------------------------------------------------------------------------------------
# Check: find the objects again in the written PNG.


def components(image):
    """8-connected components of pixels far from white: list of their pixel colours."""
    width, height = image.size
    pixels = image.load()
    ink = bytearray(width * height)
    for y in range(height):
        for x in range(width):
            r, g, b = pixels[x, y]
            ink[y * width + x] = (255 - r) + (255 - g) + (255 - b) > 120
    seen = bytearray(width * height)
    found = []
    for start in range(width * height):
        if not ink[start] or seen[start]:
            continue
        seen[start] = 1
        queue = deque([start])
        colours = Counter()
        while queue:
            i = queue.popleft()
            y, x = divmod(i, width)
            colours[pixels[x, y]] += 1
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    xx, yy = x + dx, y + dy
                    if 0 <= xx < width and 0 <= yy < height:
                        j = yy * width + xx
                        if ink[j] and not seen[j]:
                            seen[j] = 1
                            queue.append(j)
        found.append(colours)
    return found


def check_image(path, objects):
    image = Image.open(path).convert("RGB")
    found = components(image)
    if len(found) != len(objects):
        raise AssertionError(f"{path}: {len(found)} components, {len(objects)} objects drawn")
    drawn = sorted(rgb for _, _, rgb, _, _ in objects)
    # Anti-aliased thin shapes may have no pixel of exactly the drawn colour (LANCZOS
    # overshoots): name each component by the palette colour nearest its commonest pixel.
    palette = [rgb for rgbs in PALETTE.values() for rgb in rgbs]
    nearest = lambda p: min(palette, key=lambda q: sum((a - b) ** 2 for a, b in zip(p, q)))
    seen = sorted(nearest(c.most_common(1)[0][0]) for c in found)
    if drawn != seen:
        raise AssertionError(f"{path}: colours {seen}, drawn {drawn}")


# ---------------------------------------------------------------------------------------


def contact_sheet(images, labels, path, columns=6):
    cell_w, cell_h = MAX_SIDE + 8, MAX_SIDE + 24
    rows = (len(images) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * cell_w, rows * cell_h), (170, 170, 170))
    draw = ImageDraw.Draw(sheet)
    for i, (image, label) in enumerate(zip(images, labels)):
        x, y = (i % columns) * cell_w + 4, (i // columns) * cell_h + 4
        sheet.paste(image, (x, y))
        draw.text((x, y + MAX_SIDE + 4), label, fill=(0, 0, 0))
    sheet.save(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--sheet", type=Path, help="also write a contact sheet of 24 images")
    parser.add_argument("--no-check", action="store_true", help="skip re-reading the images")
    args = parser.parse_args()

    for name, rgbs in PALETTE.items():
        assert name in OURS and all(rgb != OURS[name] for rgb in rgbs), name
    assert sorted(PALETTE) == sorted(OURS)

    plan_rng = random.Random(f"{SEED}-plan")
    counts = [c for c in range(MAX_COUNT + 1) for _ in range(N_PER_COUNT)]
    plan_rng.shuffle(counts)
    # The asked shape, balanced over the classes within each count.
    asked = {}
    for c in range(MAX_COUNT + 1):
        cycle = []
        while len(cycle) < N_PER_COUNT:
            block = [name for name, _ in SHAPES]
            plan_rng.shuffle(block)
            cycle += block
        asked[c] = cycle[:N_PER_COUNT]
    used = Counter()

    img_dir = args.out / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    for old in img_dir.glob("*.png"):
        old.unlink()

    oc, mci, scenes, sheet_images, sheet_labels = [], [], [], [], []
    mci_shapes = {"Yes.": Counter(), "No.": Counter()}
    sizes, aa_count, quant_error = [], 0, 0
    for index, count in enumerate(counts):
        rng = random.Random(f"{SEED}-image-{index}")
        shape = asked[count][used[count]]
        used[count] += 1
        others = [name for name, _ in SHAPES if name != shape]
        low = 1 if count == 0 else 0
        n_distractors = rng.randint(low, min(MAX_DISTRACTORS, MAX_OBJECTS - count))
        shapes = [shape] * count + [rng.choice(others) for _ in range(n_distractors)]
        rng.shuffle(shapes)
        width, height, objects = make_scene(rng, shapes)
        antialias = rng.random() < 0.5
        aa_count += antialias
        image = draw_scene(width, height, objects, antialias)
        image_id = f"img/{index + 1:04d}.png"
        path = args.out / image_id
        quant_error = max(quant_error, save_png(image, path))
        sizes.append((width, height))
        n = len(objects)
        oc.append({
            "image_id": image_id,
            "text_in": f"How many {PLURAL[shape]} are there in the image?",
            "text_out": str(count),
            "n_obj_exist": n,
        })
        scenes.append({
            "image_id": image_id,
            "width": width,
            "height": height,
            "antialiased": antialias,
            "objects": [[shape_, colour, round(x, 1), round(y, 1), round(x + w, 1), round(y + h, 1)]
                        for shape_, colour, _, _, (x, y, w, h) in objects],
        })
        present = sorted(set(shapes))
        absent = [name for name, _ in SHAPES if name not in present]
        questions = []
        for answer, pool in (("Yes.", present), ("No.", absent)):
            tally = mci_shapes[answer]
            least = min(tally[name] for name in pool)
            pick = rng.choice([name for name in pool if tally[name] == least])
            tally[pick] += 1
            questions.append({
                "image_id": image_id,
                "text_in": f"Does {pick} exist in the image?",
                "text_out": answer,
                "n_obj_exist": n,
            })
        rng.shuffle(questions)
        mci += questions
        if not args.no_check:
            check_image(path, objects)
        if len(sheet_images) < 24:
            sheet_images.append(Image.open(path).convert("RGB"))
            sheet_labels.append(f"{index + 1:04d} {width}x{height} {'AA' if antialias else 'px'}"
                                f" {count} {PLURAL[shape]} / {n}")

    for name, data in (("oc.json", oc), ("mci.json", mci)):
        (args.out / name).write_text(json.dumps(data) + "\n")
    (args.out / "scenes.json").write_text(
        "[\n" + ",\n".join(json.dumps(scene, separators=(",", ":")) for scene in scenes) + "\n]\n")

    per_count = Counter(int(item["text_out"]) for item in oc)
    yes = sum(item["text_out"] == "Yes." for item in mci)
    widths = [w for w, _ in sizes]
    heights = [h for _, h in sizes]
    ratios = [w / h for w, h in sizes]
    n_obj = Counter(item["n_obj_exist"] for item in oc)
    summary = {
        "images": len(oc),
        "per_count": dict(sorted(per_count.items())),
        "oc_asked_shapes": dict(sorted(Counter(i["text_in"].split()[2] for i in oc).items())),
        "mci": {"questions": len(mci), "yes": yes, "no": len(mci) - yes,
                "yes_shapes": dict(sorted(mci_shapes["Yes."].items())),
                "no_shapes": dict(sorted(mci_shapes["No."].items()))},
        "n_obj_exist": dict(sorted(n_obj.items())),
        "width": [min(widths), max(widths)],
        "height": [min(heights), max(heights)],
        "aspect_w_over_h": [round(min(ratios), 3), round(max(ratios), 3)],
        "antialiased": aa_count,
        "max_quantization_error": quant_error,
        "pillow": PIL.__version__,
    }
    write_readme(args.out, summary)
    if args.sheet:
        contact_sheet(sheet_images, sheet_labels, args.sheet)
    json.dump(summary, sys.stdout, indent=1)
    print()


README = """\
# PIL scenes: an independent counting and existence test set

300 images of flat shapes on a white background, drawn by Python's Pillow (`ImageDraw`)
rather than by our renderer (`crates/gvt-scene/`), with GVTBench-format questions. It
measures whether the model still counts and identifies shapes drawn in another style.
**Never train on it.**

Generated by `tools/reference/make_pil_scenes.py` (seed {seed}, Pillow {pillow}); licence
Apache-2.0, like the project. Regenerate (byte-identical with the same Pillow and zlib):

    /usr/bin/python3 tools/reference/make_pil_scenes.py --sheet /tmp/pil-scenes-sheet.png

Evaluate:

    gvt eval gvtbench --images tests/fixtures/pil-scenes --data tests/fixtures/pil-scenes/oc.json
    gvt eval gvtbench --images tests/fixtures/pil-scenes --data tests/fixtures/pil-scenes/mci.json

## Files
- `img/0001.png` .. `img/0300.png`: the images, palette PNGs. The aliased ones are exact;
  the anti-aliased ones are stored with 256 colours (Pillow's max-coverage quantizer, no
  dithering), at most {qerr} off per channel from the drawn image. `image_id` is the path
  relative to this folder.
- `oc.json`: one question per image, `{{"image_id": "img/0001.png", "text_in": "How many
  stars are there in the image?", "text_out": "3", "n_obj_exist": 7}}` (GVTBench's OC
  template; `n_obj_exist` is the number of objects in the image).
- `mci.json`: two questions per image, `"Does star exist in the image?"` -> `"Yes."` or
  `"No."` (GVTBench's MCI template with the singular name, as `Qa::exist` asks it): one
  about a shape that is present, one about a shape that is absent, in random order.
- `scenes.json`: one line per image, `{{"image_id", "width", "height", "antialiased",
  "objects": [[shape, colour, x0, y0, x1, y1], ...]}}` (box in pixels, x right, y down), to
  split the results by canvas shape, anti-aliasing or colour. Not read by `gvt`.

## Counts
- True count of the asked shape: {per_count} images per count 0..9 ({images} images);
  0 to min(4, 9 - count) distractors of other shapes (at least one when the count is 0),
  so at most 9 objects per image, as in training.
- Asked shapes (OC): {oc_shapes}.
- Objects per image (`n_obj_exist`): {n_obj}.
- MCI: {mci_n} questions, {yes} "Yes." and {no} "No."; present shapes asked
  {yes_shapes}; absent shapes asked {no_shapes}.
- Canvas: width {w0}..{w1} px, height {h0}..{h1} px, width/height {r0}..{r1}; larger for more
  objects. {aa} images anti-aliased, {px} aliased.

## How it differs from the training renderer
- White background (training: low-saturation tones and gradients) and non-square canvases
  (training: square). `gvt` resizes every image to the model's square input, so shapes on a
  2:1 canvas reach the model squashed by up to 2x along one axis (circles as ellipses).
- Another palette: each of red, green, blue, yellow, purple and orange in two shades near
  ours, none equal to ours.
- Shape proportions: stars with 5 points but inner radius 0.34-0.40 or 0.50-0.56 (ours
  0.45), not stretched to a square box, tilted up to 12 degrees; rings with inner radius
  0.30-0.75 of the outer (ours 0.5), drawn as a thick outline; isosceles triangles of
  height/base 0.75-1.35, a third rotated by any angle (ours: fixed, apex up); hearts as two
  circles plus a triangle from their outer sides to the tip (ours: a tangent construction),
  with varied lobe spacing and tip length; crosses with arm width 0.20-0.44 of the side
  (ours 0.30); diamonds of height/width 0.75-1.6 (ours 1.0).
- Rasterisation: half the images drawn at 4x and downsampled with LANCZOS (soft edges with
  slight ringing), half drawn directly by Pillow (aliased, stair-stepped edges); ours is an
  exact supersampled signed-distance renderer.
- Layout: objects never overlap (bounding boxes at least 4 px apart, 3 px from the border);
  each spans at least 14 px, and at least 13 px once resized to 128x128, and at most 30% of
  the canvas along each axis.

Checked when generated: every PNG is read back and its objects found again as connected
non-white regions, their number and colours equal to those drawn.
"""


def write_readme(out, s):
    fmt = lambda d: ", ".join(f"{k} {v}" for k, v in d.items())
    counts = set(s["per_count"].values())
    text = README.format(
        seed=SEED,
        pillow=s["pillow"],
        per_count=counts.pop() if len(counts) == 1 else s["per_count"],
        images=s["images"],
        oc_shapes=fmt(s["oc_asked_shapes"]),
        n_obj=fmt(s["n_obj_exist"]),
        mci_n=s["mci"]["questions"],
        yes=s["mci"]["yes"],
        no=s["mci"]["no"],
        yes_shapes=fmt(s["mci"]["yes_shapes"]),
        no_shapes=fmt(s["mci"]["no_shapes"]),
        w0=s["width"][0], w1=s["width"][1],
        h0=s["height"][0], h1=s["height"][1],
        r0=s["aspect_w_over_h"][0], r1=s["aspect_w_over_h"][1],
        aa=s["antialiased"], px=s["images"] - s["antialiased"],
        qerr=s["max_quantization_error"],
    )
    (out / "README.md").write_text(text)


if __name__ == "__main__":
    main()
