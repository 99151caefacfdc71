"""The demo's photos, drawn: every image a demo task, gold item or guide example shows, as an SVG
file under demo/static/demo/ (served at ``/static/demo/`` by staticfiles in the demo, and by the
live server in the tests), so the labeler pages work offline and nothing is downloaded.

Each picture is a drone's view of one utility pole: a sky gradient, the ground, the pole with its
crossarm, insulators and wires, and the case's defect drawn where its label says — the northern
survey's real photos from the project's truth (``demo.seed.work.demo_truth``), its control photos
and the quiz photos from their gold item (``GOLD_DRAWINGS``: which picture of its class each of
the forty cases is), the hardware photos of the box project with the boxes ``hardware_boxes``
gives. Every file is 640 x 480 (``width``/``height``: the image's natural size, in which box
answers are measured).

Deterministic: a picture depends on its set and number only (a generator seeded by them), and
numbers are written with one decimal at most, so regenerating yields the same bytes
(``manage.py demo_images --check``; tests/demo/test_images.py).

Nothing in a file names its case: no title, comment, id or class says what is wrong, so the SVG
source tells a labeler no more than the picture, and control photos come from the same code as
real ones. Pure Python; no ORM, no Pillow, no network.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from demo.seed.qualification import GOLD_CLASSES, GOLD_ITEMS
from demo.seed.survey import CONTROL_PHOTOS, F5_PHOTOS, TASK_PHOTOS, f5_truth
from demo.seed.work import demo_truth

WIDTH, HEIGHT = 640, 480
STATIC_ROOT = Path(__file__).resolve().parent.parent / "static" / "demo"

POLE_SCALE = 1.3  # the pole photos' pole, wider than life so its defects read at a glance
HARDWARE_SCALE = 1.6  # the box project's close-ups
HARDWARE_PHOTOS = 20  # the box project's photos (demo.seed.boxes)
HARDWARE_CLASSES = ("insulator", "crossarm", "transformer")

WOOD, CONCRETE, STEEL = "wood", "concrete", "steel"
MATERIALS = (WOOD, CONCRETE, STEEL)

# How each class may be drawn, and on which poles: {class: {drawing: materials}}.
DRAWINGS: dict[str, dict[str, tuple[str, ...]]] = {
    "ok": {
        "clean": MATERIALS,
        "stain": (WOOD,),
        "lichen": (CONCRETE,),
        "nest": MATERIALS,
        "low-sun": (STEEL, CONCRETE),
        "shadows": MATERIALS,
        "graffiti": (STEEL, CONCRETE),
    },
    "crack": {
        "vertical": MATERIALS[:2],
        "hairline": MATERIALS[:2],
        "diagonal": MATERIALS[:2],
        "ring": MATERIALS[:2],
        "top": (WOOD,),
        "spall": (CONCRETE,),
        "wide": (CONCRETE,),
        "bolt-split": (WOOD,),
    },
    "rust": {
        "bracket": MATERIALS,
        "bolt": (WOOD,),
        "base": (STEEL,),
        "seam": (STEEL,),
        "heavy": (STEEL,),
        "anchor": MATERIALS,
        "transformer": (WOOD, CONCRETE),
    },
    "woodpecker": {
        "one": (WOOD,),
        "two": (WOOD,),
        "row": (WOOD,),
        "big": (WOOD,),
        "healed": (WOOD,),
        "plugged": (WOOD,),
    },
    "missing-crossarm": {
        "clamp": MATERIALS,
        "pin": MATERIALS,
        "brackets": (STEEL,),
        "ground": MATERIALS,
        "one-of-two": MATERIALS,
    },
}
# Two answers in one picture: the gold items that accept both.
COMBINED = {"crack-rust": ("crack", "rust"), "stub": ("missing-crossarm", "crack")}

# The picture of each quiz case, in GOLD_ITEMS order (item n is POLE-{n:03d}): its explanation
# says what the photo shows, and this draws that.
GOLD_DRAWINGS = (
    *("clean", "hairline", "bracket", "two", "clamp", "stain", "ring", "base", "one", "clean"),
    *("pin", "spall", "crack-rust", "lichen", "bolt", "healed", "transformer", "clean", "top"),
    *("brackets", "nest", "seam", "row", "ring", "stub", "low-sun", "heavy", "shadows"),
    *("diagonal", "big", "ground", "anchor", "clean", "wide", "graffiti", "bracket", "plugged"),
    *("bolt-split", "stain", "one-of-two"),
)

_SKIES = (("#5d9bd5", "#d6e9f8"), ("#7fb0dd", "#eef5fb"), ("#9fb8cf", "#e4eaef"))
_LOW_SUN_SKY = ("#e98f4e", "#fbe0b0")
_GROUNDS = (("#9ab877", "#5f7f43"), ("#b9b27a", "#86794a"), ("#8fae6c", "#4f6f3a"))
_HILLS = ("#6f8d62", "#7b8f6a", "#5f7b5a")
_POLE = {WOOD: "#7a5634", CONCRETE: "#b9b5ab", STEEL: "#8f9ba7"}
_ARM = {WOOD: "#6a4a2c", CONCRETE: "#6a4a2c", STEEL: "#76808a"}
_RUST = ("#b4521c", "#8e3b11", "#c8651f", "#7a2f0c", "#a64716")
_WIRE = "#2b2b2b"
_HOLE = "#1b110a"


def _num(x: float) -> str:
    """A coordinate with one decimal at most (``12``, ``12.5``), never ``-0``."""
    text = f"{x:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


class _Svg:
    """Elements in drawing order, written with fixed precision."""

    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, tag: str, **attrs: object) -> None:
        self.parts.append(f"<{tag} {self._attrs(attrs)}/>")

    def group(self, inner: list[str], **attrs: object) -> None:
        self.parts.append(f"<g {self._attrs(attrs)}>{''.join(inner)}</g>")

    @staticmethod
    def _attrs(attrs: dict[str, object]) -> str:
        out = []
        for key, value in attrs.items():
            name = key.rstrip("_").replace("_", "-")
            text = _num(value) if isinstance(value, float | int) else str(value)
            out.append(f'{name}="{text}"')
        return " ".join(out)

    @staticmethod
    def points(pts: list[tuple[float, float]]) -> str:
        return " ".join(f"{_num(x)},{_num(y)}" for x, y in pts)


@dataclass
class _Pole:
    material: str
    cx: float
    top: float
    foot: float
    top_width: float
    foot_width: float
    arm_ys: list[float]
    arm_half: float
    scale: float = 1.0
    # (x, y) of each insulator's foot, and the transformer's box, once drawn.
    insulators: list[tuple[float, float]] = field(default_factory=list)
    boxes: list[dict[str, object]] = field(default_factory=list)

    def half_width(self, y: float) -> float:
        t = min(max((y - self.top) / (self.foot - self.top), 0.0), 1.0)
        return (self.top_width + (self.foot_width - self.top_width) * t) / 2

    def box(self, label: str, x: float, y: float, w: float, h: float) -> None:
        self.boxes.append(
            {"label": label, "x": round(x, 1), "y": round(y, 1), "w": round(w, 1), "h": round(h, 1)}
        )


# -- the scene -----------------------------------------------------------------------------------


def _backdrop(svg: _Svg, rng: random.Random, *, low_sun: bool) -> float:
    """Sky, clouds, hills and ground; returns the horizon's height."""
    top, bottom = _LOW_SUN_SKY if low_sun else rng.choice(_SKIES)
    near, far = rng.choice(_GROUNDS)
    svg.parts.append(
        "<defs>"
        '<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{top}"/><stop offset="1" stop-color="{bottom}"/>'
        "</linearGradient>"
        '<linearGradient id="ground" x1="0" y1="0" x2="0" y2="1">'
        f'<stop offset="0" stop-color="{near}"/><stop offset="1" stop-color="{far}"/>'
        "</linearGradient>"
        "</defs>"
    )
    svg.add("rect", width=WIDTH, height=HEIGHT, fill="url(#sky)")
    for _ in range(rng.randint(0, 3)):
        svg.add(
            "ellipse",
            cx=rng.uniform(40, 600),
            cy=rng.uniform(30, 150),
            rx=rng.uniform(40, 90),
            ry=rng.uniform(10, 22),
            fill="#ffffff",
            opacity=rng.uniform(0.45, 0.8),
        )
    horizon = rng.uniform(250, 300)
    hills = [(0.0, horizon)]
    hills += [(x, horizon - rng.uniform(8, 40)) for x in (90.0, 210.0, 350.0, 470.0, 580.0)]
    hills += [(WIDTH, horizon), (WIDTH, HEIGHT), (0.0, HEIGHT)]
    svg.add("polygon", points=_Svg.points(hills), fill=rng.choice(_HILLS))
    svg.add("rect", y=horizon, width=WIDTH, height=HEIGHT - horizon, fill="url(#ground)")
    for _ in range(rng.randint(2, 5)):  # tufts and stones
        svg.add(
            "ellipse",
            cx=rng.uniform(0, WIDTH),
            cy=rng.uniform(horizon + 20, HEIGHT),
            rx=rng.uniform(6, 24),
            ry=rng.uniform(2, 6),
            fill=far,
            opacity=0.6,
        )
    return horizon


def _new_pole(rng: random.Random, material: str, *, arms: int, scale: float = 1.0) -> _Pole:
    widths = {WOOD: (14, 22), CONCRETE: (16, 27), STEEL: (12, 24)}[material]
    top = rng.uniform(40, 70) if scale < 1.5 else rng.uniform(20, 40)
    first = top + rng.uniform(22, 34) * scale
    return _Pole(
        material=material,
        cx=rng.uniform(270, 370),
        top=top,
        foot=rng.uniform(440, 462),
        top_width=widths[0] * scale,
        foot_width=widths[1] * scale,
        arm_ys=[first + 42 * scale * i for i in range(arms)],
        arm_half=rng.uniform(95, 125) * scale,
        scale=scale,
    )


def _draw_pole(svg: _Svg, rng: random.Random, pole: _Pole, *, treated: bool = False) -> None:
    cx, top, foot = pole.cx, pole.top, pole.foot
    ht, hf = pole.top_width / 2, pole.foot_width / 2
    svg.add(
        "ellipse", cx=cx + 18, cy=foot + 2, rx=hf * 2.6, ry=5, fill="#1d2a14", opacity=0.3
    )  # its shadow
    color = "#6f6a3c" if treated else _POLE[pole.material]
    body = [(cx - ht, top), (cx + ht, top), (cx + hf, foot), (cx - hf, foot)]
    svg.add("polygon", points=_Svg.points(body), fill=color)
    shade = [(cx + ht * 0.35, top), (cx + ht, top), (cx + hf, foot), (cx + hf * 0.35, foot)]
    svg.add("polygon", points=_Svg.points(shade), fill="#000000", opacity=0.16)
    if pole.material == WOOD:
        for _ in range(3):
            off = rng.uniform(-0.7, 0.7)
            svg.add(
                "line",
                x1=cx + off * ht,
                y1=top + 6,
                x2=cx + off * hf,
                y2=foot - 4,
                stroke="#4d321b",
                stroke_width=0.8,
                opacity=0.45,
            )
        svg.add(
            "rect", x=cx - ht - 1, y=top - 4, width=2 * ht + 2, height=5, fill="#4a4a48"
        )  # the cap
    elif pole.material == CONCRETE:
        for _ in range(14):
            y = rng.uniform(top + 10, foot - 10)
            svg.add(
                "circle",
                cx=cx + rng.uniform(-0.8, 0.8) * pole.half_width(y),
                cy=y,
                r=rng.uniform(0.6, 1.4),
                fill="#8e8a80",
            )
    else:
        svg.add(
            "line",
            x1=cx - ht * 0.3,
            y1=top,
            x2=cx - hf * 0.3,
            y2=foot,
            stroke="#6d7782",
            stroke_width=1,
        )
        svg.add(
            "rect", x=cx - hf - 8, y=foot - 6, width=2 * hf + 16, height=8, fill="#5d646b"
        )  # the base plate
        for dx in (-hf - 4, hf + 4):
            svg.add("circle", cx=cx + dx, cy=foot - 2, r=2, fill="#3c4146")


def _draw_arm(svg: _Svg, pole: _Pole, y: float, *, hardware: bool = False) -> None:
    """A crossarm at ``y`` with its braces and insulators (whose feet are remembered)."""
    s = pole.scale
    half, cx = pole.arm_half, pole.cx
    height = 11 * s
    color = _ARM[pole.material]
    for side in (-1, 1):
        svg.add(
            "line",
            x1=cx + side * half * 0.45,
            y1=y + height,
            x2=cx + side * pole.half_width(y + 40 * s),
            y2=y + 40 * s,
            stroke=color,
            stroke_width=3 * s,
        )
    svg.add("rect", x=cx - half, y=y, width=2 * half, height=height, fill=color)
    svg.add(
        "rect",
        x=cx - half,
        y=y + height - 3 * s,
        width=2 * half,
        height=3 * s,
        fill="#000",
        opacity=0.2,
    )
    if hardware:
        pole.box("crossarm", cx - half - 1, y - 1, 2 * half + 2, height + 2)
    for x in _insulator_xs(pole):
        _draw_insulator(svg, pole, x, y, hardware=hardware)


def _insulator_xs(pole: _Pole) -> list[float]:
    half, cx = pole.arm_half, pole.cx
    xs = [cx - half + 12 * pole.scale, cx + half - 12 * pole.scale]
    if half > 110 * pole.scale:  # a long arm carries a third phase
        xs.append(cx + half * 0.45)
    return xs


def _draw_insulator(svg: _Svg, pole: _Pole, x: float, y: float, *, hardware: bool) -> None:
    s = pole.scale
    glass = pole.material == STEEL
    color = "#5f9e86" if glass else "#e4e6df"
    rim = "#3f7462" if glass else "#9c9f97"
    svg.add("rect", x=x - 2 * s, y=y - 18 * s, width=4 * s, height=18 * s, fill="#7b7f80")
    for i in range(3):
        svg.add(
            "ellipse",
            cx=x,
            cy=y - (4 + 5 * i) * s,
            rx=7.5 * s,
            ry=2.6 * s,
            fill=color,
            stroke=rim,
            stroke_width=0.8,
        )
    pole.insulators.append((x, y - 18 * s))
    if hardware:
        pole.box("insulator", x - 8.5 * s, y - 20 * s, 17 * s, 20 * s)


def _draw_wires(svg: _Svg, rng: random.Random, pole: _Pole) -> None:
    for x, y in pole.insulators:
        left = y + rng.uniform(-10, 30)
        right = y + rng.uniform(-10, 30)
        sag = rng.uniform(6, 16)
        svg.add(
            "path",
            d=f"M0 {_num(left)} Q{_num(x / 2)} {_num(max(left, y) + sag)} {_num(x)} {_num(y)} "
            f"Q{_num((x + WIDTH) / 2)} {_num(max(right, y) + sag)} {WIDTH} {_num(right)}",
            fill="none",
            stroke=_WIRE,
            stroke_width=1.3,
        )


def _draw_transformer(svg: _Svg, pole: _Pole, y: float, *, hardware: bool) -> None:
    s = pole.scale
    x = pole.cx + pole.half_width(y) + 3 * s
    w, h = 42 * s, 66 * s
    svg.add("rect", x=x - 4 * s, y=y + 10 * s, width=6 * s, height=10 * s, fill="#4b4f52")
    svg.add("rect", x=x - 4 * s, y=y + h - 16 * s, width=6 * s, height=10 * s, fill="#4b4f52")
    svg.add("rect", x=x, y=y, width=w, height=h, rx=6 * s, fill="#7e8b84")
    svg.add("ellipse", cx=x + w / 2, cy=y, rx=w / 2, ry=5 * s, fill="#98a49d")
    svg.add(
        "rect",
        x=x + w * 0.62,
        y=y + 6 * s,
        width=w * 0.3,
        height=h - 12 * s,
        fill="#000",
        opacity=0.15,
    )
    for bx in (x + w * 0.3, x + w * 0.7):  # the bushings
        svg.add("rect", x=bx - 2.5 * s, y=y - 14 * s, width=5 * s, height=12 * s, fill="#d9dbd4")
    if hardware:
        pole.box("transformer", x - 1, y - 15 * s, w + 2, h + 16 * s)


# -- what is wrong (or looks it) -----------------------------------------------------------------


def _crack(svg: _Svg, rng: random.Random, pole: _Pole, kind: str) -> None:
    cx = pole.cx
    width = {"hairline": 1.4, "wide": 5.0}.get(kind, 2.6)
    if kind == "ring":
        y = pole.foot - rng.uniform(18, 26)
        hw = pole.half_width(y)
        pts = [(cx - hw + 1 + i * (2 * hw - 2) / 6, y + rng.uniform(-2, 2)) for i in range(7)]
    elif kind == "diagonal":
        y0 = pole.foot - rng.uniform(90, 110)
        pts = [(cx - 0.7 * pole.half_width(y0) + i * 2.2, y0 + i * 9) for i in range(8)]
        pts = [(x + rng.uniform(-1.5, 1.5), y) for x, y in pts]
    else:
        if kind == "top":
            y0, length = pole.top + 2, rng.uniform(60, 80)
        elif kind == "hairline":
            y0, length = pole.foot - 60, 52.0
        elif kind == "bolt-split":
            y0, length = pole.arm_ys[0] + 22, rng.uniform(70, 90)
            svg.add("circle", cx=cx, cy=y0 + 10, r=3, fill="#3b3b3b")
        else:
            y0, length = rng.uniform(pole.top + 110, pole.foot - 170), rng.uniform(70, 120)
        steps = 9
        x = cx + rng.uniform(-0.3, 0.3) * pole.half_width(y0)
        pts = []
        for i in range(steps + 1):
            y = y0 + length * i / steps
            limit = pole.half_width(y) * 0.7
            pts.append((min(max(x + rng.uniform(-3, 3), cx - limit), cx + limit), y))
    if kind == "wide":  # displaced: the pole's two sides no longer line up
        svg.add(
            "polyline",
            points=_Svg.points([(x + 3, y) for x, y in pts]),
            fill="none",
            stroke="#e2ded3",
            stroke_width=2,
        )
    svg.add(
        "polyline",
        points=_Svg.points(pts),
        fill="none",
        stroke="#1e1915",
        stroke_width=width,
        stroke_linejoin="round",
    )


def _spall(svg: _Svg, rng: random.Random, pole: _Pole) -> None:
    y = pole.top + 8
    hw = pole.half_width(y)
    patch = [(pole.cx - hw, y), (pole.cx + hw * 0.4, y + 4), (pole.cx + hw * 0.2, y + 38)]
    patch += [(pole.cx - hw, y + 30)]
    svg.add("polygon", points=_Svg.points(patch), fill="#8a8578")
    for dx in (-0.5, 0.0):  # exposed reinforcement
        svg.add(
            "line",
            x1=pole.cx + dx * hw,
            y1=y + 2,
            x2=pole.cx + dx * hw,
            y2=y + 32,
            stroke="#5a3a22",
            stroke_width=2,
        )
    _crack(svg, rng, pole, "top")


def _rust_patch(svg: _Svg, rng: random.Random, x: float, y: float, spread: float, n: int) -> None:
    for _ in range(n):
        svg.add(
            "ellipse",
            cx=x + rng.uniform(-spread, spread),
            cy=y + rng.uniform(-spread * 0.6, spread * 0.6),
            rx=rng.uniform(2, 5) * spread / 8,
            ry=rng.uniform(1.5, 4) * spread / 8,
            fill=rng.choice(_RUST),
            opacity=rng.uniform(0.75, 0.95),
        )


def _run_off(svg: _Svg, x: float, y: float, length: float) -> None:
    pts = [(x - 2.5, y), (x + 2.5, y), (x + 1, y + length), (x - 1, y + length)]
    svg.add("polygon", points=_Svg.points(pts), fill="#8e3b11", opacity=0.55)


def _bracket(svg: _Svg, pole: _Pole, y: float) -> tuple[float, float]:
    hw = pole.half_width(y)
    svg.add("rect", x=pole.cx - hw - 3, y=y, width=2 * hw + 6, height=12, fill="#55595c")
    for dx in (-hw, hw):
        svg.add("circle", cx=pole.cx + dx, cy=y + 6, r=2.2, fill="#2f3234")
    return pole.cx, y + 6


def _rust(svg: _Svg, rng: random.Random, pole: _Pole, kind: str) -> None:
    cx = pole.cx
    if kind == "bracket":
        x, y = _bracket(svg, pole, pole.arm_ys[-1] + 30)
        _rust_patch(svg, rng, x, y, 10, 9)
        _run_off(svg, x + rng.uniform(-4, 4), y + 6, 30)
    elif kind == "bolt":
        y = pole.arm_ys[0] + 5
        svg.add("circle", cx=cx, cy=y, r=4, fill="#3b3b3b")
        _rust_patch(svg, rng, cx, y, 9, 9)
        _run_off(svg, cx, y + 3, 60)
    elif kind == "base":
        _rust_patch(svg, rng, cx, pole.foot - 3, pole.foot_width / 2 + 8, 12)
        for _ in range(5):  # blistered paint
            svg.add(
                "circle",
                cx=cx + rng.uniform(-0.8, 0.8) * pole.foot_width / 2,
                cy=pole.foot - rng.uniform(12, 40),
                r=rng.uniform(1.5, 3),
                fill="#a9b2ba",
                stroke="#6d747a",
                stroke_width=0.6,
            )
    elif kind == "seam":
        y0 = (pole.top + pole.foot) / 2
        hw = pole.half_width(y0)
        svg.add("rect", x=cx - hw, y=y0 - 2, width=2 * hw, height=4, fill="#6b737b")
        for i in range(5):
            _rust_patch(svg, rng, cx - hw + (i + 0.5) * 2 * hw / 5, y0, 4, 2)
        _run_off(svg, cx + rng.uniform(-3, 3), y0 + 2, 26)
    elif kind == "heavy":
        for _ in range(5):
            y = rng.uniform(pole.top + 60, pole.foot - 40)
            hw = pole.half_width(y)
            _rust_patch(svg, rng, cx - hw * 0.5, y, hw * 0.9, 8)
    elif kind == "anchor":
        ax, ay = cx - 150, pole.foot + 6
        svg.add(
            "line",
            x1=cx,
            y1=pole.arm_ys[0] + 14,
            x2=ax,
            y2=ay,
            stroke="#4a4a4a",
            stroke_width=1.6,
        )
        svg.add("rect", x=ax - 12, y=ay - 3, width=24, height=8, fill="#5b5d5c")
        _rust_patch(svg, rng, ax, ay, 12, 10)
    elif kind == "transformer":
        y = pole.arm_ys[-1] + 60
        x, yb = _bracket(svg, pole, y + 70)
        _run_off(svg, x + 4, yb + 6, 34)
        _rust_patch(svg, rng, x + 4, yb + 22, 6, 5)


def _woodpecker(svg: _Svg, rng: random.Random, pole: _Pole, kind: str) -> None:
    cx = pole.cx
    below = pole.arm_ys[-1] + 30
    if kind == "big":
        svg.add("ellipse", cx=cx, cy=below + 40, rx=6, ry=13, fill=_HOLE)
        svg.add("ellipse", cx=cx, cy=below + 40, rx=7.5, ry=14.5, fill="none", stroke="#caa46c")
        return
    if kind == "row":
        spots = [(cx - 4 + 4 * i, pole.top + 16 + i * 2) for i in range(3)]
    else:
        count = {"one": 1, "two": 2, "healed": 3, "plugged": 1}[kind]
        spots = [(cx + rng.uniform(-3, 3), below + 18 + 22 * i) for i in range(count)]
    rim = "#8a6a44" if kind == "healed" else "#d1ad73"
    for x, y in spots:
        r = 3 if kind == "row" else 5
        svg.add("circle", cx=x, cy=y, r=r + 1.5, fill=rim)
        svg.add("circle", cx=x, cy=y, r=r, fill="#4a3422" if kind == "healed" else _HOLE)
    if kind == "plugged":  # an old repair beside the new hole
        x, y = spots[0]
        svg.add("rect", x=x - 5, y=y + 14, width=10, height=12, rx=2, fill="#9a9387")
    if kind in {"one", "two"}:  # fresh chips at the foot
        for _ in range(7):
            svg.add(
                "rect",
                x=cx + rng.uniform(-30, 30),
                y=pole.foot + rng.uniform(-2, 8),
                width=3,
                height=1.6,
                fill="#e2c48e",
            )


def _bolt_holes(svg: _Svg, pole: _Pole, y: float) -> None:
    for dy in (3, 9):
        svg.add("circle", cx=pole.cx, cy=y + dy, r=2.2, fill="#222")


def _ok_look(svg: _Svg, rng: random.Random, pole: _Pole, kind: str) -> None:
    cx = pole.cx
    if kind == "stain":  # smooth, along the grain, below the cap: no texture, no metal
        y = pole.top + 2
        for off in (-0.4, 0.25):
            x = cx + off * pole.half_width(y)
            length = rng.uniform(90, 150)
            pts = [(x - 3.5, y), (x + 3.5, y), (x + 1.5, y + length), (x - 1.5, y + length)]
            svg.add("polygon", points=_Svg.points(pts), fill="#24170c", opacity=0.6)
    elif kind == "lichen":
        y = rng.uniform(pole.top + 150, pole.foot - 80)
        for _ in range(8):
            svg.add(
                "circle",
                cx=cx + rng.uniform(-0.7, 0.7) * pole.half_width(y),
                cy=y + rng.uniform(-14, 14),
                r=rng.uniform(1.5, 3.2),
                fill="#e39a2d",
                opacity=0.85,
            )
    elif kind == "nest":
        x, y = cx + pole.arm_half * 0.55, pole.arm_ys[0]
        svg.add("ellipse", cx=x, cy=y - 5, rx=14, ry=7, fill="#6b5336")
        for i in range(4):
            svg.add(
                "line",
                x1=x - 14 + i * 6,
                y1=y - 9,
                x2=x - 8 + i * 6,
                y2=y - 1,
                stroke="#3f2e1c",
                stroke_width=1,
            )
    elif kind == "shadows":
        for i in range(3):
            y = rng.uniform(pole.top + 120, pole.foot - 60) + i * 12
            svg.add(
                "line",
                x1=cx - 30,
                y1=y,
                x2=cx + 30,
                y2=y + 8,
                stroke="#000",
                stroke_width=1.5,
                opacity=0.25,
            )
    elif kind == "graffiti":
        y = pole.foot - 110
        svg.add(
            "path",
            d=f"M{_num(cx - 8)} {_num(y)} q6 -10 10 0 t10 2 M{_num(cx - 6)} {_num(y + 14)} "
            "q5 6 12 -2",
            fill="none",
            stroke="#d0306e",
            stroke_width=2.5,
        )
    elif kind == "low-sun":
        svg.add("rect", width=WIDTH, height=HEIGHT, fill="#ff8c2a", opacity=0.18)


# -- whole pictures ------------------------------------------------------------------------------


def _pole_picture(seed: str, classes: tuple[str, ...], drawing: str, material: str) -> str:
    """One pole photo: ``classes`` (what its label says, one or two) drawn as ``drawing``."""
    rng = random.Random(seed)
    svg = _Svg()
    _backdrop(svg, rng, low_sun=drawing == "low-sun")
    arms = 2 if drawing == "one-of-two" or rng.random() < 0.25 else 1
    pole = _new_pole(rng, material, arms=arms, scale=POLE_SCALE)
    transformer = drawing == "transformer" or (
        material != STEEL and drawing not in {"bracket", "heavy"} and rng.random() < 0.2
    )
    _draw_pole(
        svg, rng, pole, treated=drawing == "clean" and material == WOOD and rng.random() < 0.5
    )
    missing = "missing-crossarm" in classes
    for i, y in enumerate(pole.arm_ys):
        gone = missing and (drawing != "one-of-two" or i == 0)
        if not gone:
            _draw_arm(svg, pole, y)
            continue
        if drawing == "stub":  # snapped at the bolt; the stub split along its length
            svg.add("rect", x=pole.cx, y=y, width=34, height=11, fill=_ARM[material])
            pts = [(pole.cx + 6 + 4 * i, y + 5.5 + (1.8 if i % 2 else -1.8)) for i in range(8)]
            svg.add(
                "polyline",
                points=_Svg.points(pts),
                fill="none",
                stroke="#1e1915",
                stroke_width=2,
            )
        elif drawing == "brackets":
            for dx in (-1, 1):
                hw = pole.half_width(y)
                svg.add("rect", x=pole.cx + dx * hw - 4, y=y, width=8, height=12, fill="#55595c")
        elif drawing == "pin":
            svg.add("rect", x=pole.cx - 2, y=y - 20, width=4, height=24, fill="#7b7f80")
        else:
            _bolt_holes(svg, pole, y)
    if missing and not pole.insulators:  # the wires hang on a clamp at the top
        hw = pole.half_width(pole.top + 8)
        svg.add("rect", x=pole.cx - hw - 3, y=pole.top + 4, width=2 * hw + 6, height=7, fill="#333")
        pole.insulators = [(pole.cx - hw - 2, pole.top + 8), (pole.cx + hw + 2, pole.top + 8)]
    if missing and drawing == "ground":
        gx, gy = pole.cx + rng.choice((-1, 1)) * 90, pole.foot + 8
        svg.add(
            "rect",
            x=gx - 100,
            y=gy - 6,
            width=200,
            height=11,
            fill=_ARM[material],
            transform=f"rotate({_num(rng.uniform(-8, 8))} {_num(gx)} {_num(gy)})",
        )
    if transformer:
        _draw_transformer(svg, pole, pole.arm_ys[-1] + 60, hardware=False)
    _draw_wires(svg, rng, pole)

    if drawing in DRAWINGS["crack"]:
        if drawing == "spall":
            _spall(svg, rng, pole)
        else:
            _crack(svg, rng, pole, drawing)
    elif drawing in DRAWINGS["rust"]:
        _rust(svg, rng, pole, drawing)
    elif drawing in DRAWINGS["woodpecker"]:
        _woodpecker(svg, rng, pole, drawing)
    elif drawing in DRAWINGS["ok"]:
        _ok_look(svg, rng, pole, drawing)
    elif drawing == "crack-rust":
        _crack(svg, rng, pole, "vertical")
        _rust_patch(svg, rng, pole.cx + 2, (pole.top + pole.foot) / 2 + 20, 6, 6)
        _run_off(svg, pole.cx + 2, (pole.top + pole.foot) / 2 + 24, 40)
    return _document(svg)


def _document(svg: _Svg) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}">' + "".join(svg.parts) + "</svg>\n"
    )


def _gold_picture(seed: str, n: int) -> str:
    """Quiz case ``n`` (1-based, GOLD_ITEMS order), on a photo of its own ``seed``."""
    answers, _difficulty, material, _version, _explanation = GOLD_ITEMS[n - 1]
    return _pole_picture(seed, tuple(answers), GOLD_DRAWINGS[n - 1], material)


def north_truth(photo: int) -> tuple[str, ...]:
    """What northern photo ``photo`` shows: a control photo its gold case's answers, a real one
    the project's truth."""
    if photo in CONTROL_PHOTOS:
        return tuple(GOLD_ITEMS[CONTROL_PHOTOS.index(photo)][0])
    if photo in F5_PHOTOS:
        return (f5_truth(photo),)
    return (demo_truth(TASK_PHOTOS.index(photo) + 1, list(GOLD_CLASSES)),)


def north_photo(photo: int) -> str:
    """Northern survey photo ``photo``: a control photo draws its gold case, a real one its
    truth drawn one of the class's ways (on a pole of a material that allows it)."""
    seed = f"north/{photo}"
    if photo in CONTROL_PHOTOS:
        return _gold_picture(seed, CONTROL_PHOTOS.index(photo) + 1)
    (truth,) = north_truth(photo)
    rng = random.Random(f"{seed}/case")
    material = rng.choice([m for m in MATERIALS if any(m in a for a in DRAWINGS[truth].values())])
    choices = [d for d, allowed in DRAWINGS[truth].items() if material in allowed]
    if truth == "ok":  # most sound poles look it
        choices += ["clean"] * 3
    return _pole_picture(seed, (truth,), rng.choice(choices), material)


def pole_photo(n: int) -> str:
    """Quiz photo ``n`` (POLE-{n:03d})."""
    return _gold_picture(f"poles/{n}", n)


def _hardware(n: int) -> tuple[str, list[dict[str, object]]]:
    rng = random.Random(f"hardware/{n}")
    svg = _Svg()
    _backdrop(svg, rng, low_sun=False)
    material = rng.choice(MATERIALS)
    pole = _new_pole(rng, material, arms=1 + (n % 3 == 0), scale=HARDWARE_SCALE)
    pole.cx = rng.uniform(250, 300)
    pole.arm_half = min(pole.arm_half, pole.cx - 20, WIDTH - pole.cx - 90)
    _draw_pole(svg, rng, pole)
    for y in pole.arm_ys:
        _draw_arm(svg, pole, y, hardware=True)
    if n % 5 != 1:  # most photos of this line have a transformer; a few do not
        _draw_transformer(svg, pole, pole.arm_ys[-1] + 70, hardware=True)
    _draw_wires(svg, rng, pole)
    return _document(svg), pole.boxes


def hardware_photo(n: int) -> str:
    """Box project photo ``n``: a close-up of a pole's hardware."""
    return _hardware(n)[0]


def hardware_boxes(n: int) -> list[dict[str, object]]:
    """The boxes of hardware photo ``n`` as drawn: every insulator, crossarm and transformer,
    in the image's pixels (``{"label", "x", "y", "w", "h"}``, top-left corner)."""
    return _hardware(n)[1]


# -- the files -----------------------------------------------------------------------------------

# set → (file name of number n, how many, picture of number n)
SETS: dict[str, tuple[Callable[[int], str], int, Callable[[int], str]]] = {
    "north": (lambda n: f"{n:04d}.svg", F5_PHOTOS[-1], north_photo),
    "poles": (lambda n: f"{n:03d}.svg", len(GOLD_ITEMS), pole_photo),
    "hardware": (lambda n: f"{n:04d}.svg", HARDWARE_PHOTOS, hardware_photo),
}


def all_images() -> dict[str, str]:
    """Every demo image: ``{"north/0001.svg": svg text, …}``, paths relative to
    demo/static/demo/."""
    return {
        f"{name}/{file_name(n)}": draw(n)
        for name, (file_name, count, draw) in SETS.items()
        for n in range(1, count + 1)
    }


def write_images(root: Path = STATIC_ROOT) -> list[str]:
    """Write every image under ``root``; returns the paths written (those that changed)."""
    written = []
    for rel, text in all_images().items():
        path = root / rel
        data = text.encode()
        if path.exists() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(rel)
    return written


def stale_images(root: Path = STATIC_ROOT) -> list[str]:
    """The images under ``root`` that are missing, differ from what is drawn now, or are not
    drawn at all any more: empty when the committed files are current."""
    images = all_images()
    stale = [
        rel
        for rel, text in images.items()
        if not (root / rel).exists() or (root / rel).read_bytes() != text.encode()
    ]
    extra = [
        str(p.relative_to(root))
        for p in root.rglob("*.svg")
        if str(p.relative_to(root)) not in images
    ]
    return sorted(stale + extra)
