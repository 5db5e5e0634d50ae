"""Builds GridassessSansSC-Regular.ttf, the font every chart and report is drawn with.

It is Noto Sans CJK SC Regular (SIL Open Font License 1.1, see OFL.txt), cut down to the
characters a county's files can hold -- every character of GBK, which is what their CSVs are
encoded in, plus ASCII, Latin-1, general punctuation, arrows, maths, box drawing, shapes, CJK
punctuation and full-width forms -- and converted from CFF to TrueType outlines so that the
report writer can subset it per report (the subsetter reads TrueType `glyf` only). OpenType
layout features are dropped: the charts do not shape text, and vertical or locale forms are
not used.

    apt-get download fonts-noto-cjk && dpkg-deb -x fonts-noto-cjk_*.deb noto
    pip install fonttools
    python3 make_font.py noto/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
"""

import sys

from fontTools import subset
from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTCollection, newTable

OUT = "GridassessSansSC-Regular.ttf"
FAMILY = "Gridassess Sans SC"  # a modified version may not keep the original's name (OFL 1.1 §3)


def wanted_chars():
    ranges = [
        (0x20, 0x7E), (0xA0, 0x17F), (0x2000, 0x206F), (0x2100, 0x22FF),
        (0x2460, 0x24FF), (0x2500, 0x26FF), (0x3000, 0x303F), (0xFF00, 0xFFEF),
    ]
    chars = {c for lo, hi in ranges for c in range(lo, hi + 1)}
    for b1 in range(0x81, 0xFF):
        for b2 in range(0x40, 0xFF):
            try:
                chars.add(ord(bytes([b1, b2]).decode("gbk")))
            except UnicodeDecodeError:
                pass
    return chars


def main(ttc_path):
    collection = TTCollection(ttc_path)
    font = next(f for f in collection.fonts if f["name"].getDebugName(1) == "Noto Sans CJK SC")

    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=wanted_chars())
    subsetter.subset(font)

    # CFF cubic outlines -> TrueType quadratic outlines (error <= 1 unit of 1000 per em).
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    for tag in ("CFF ", "VORG"):
        if tag in font:
            del font[tag]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs",
                  "maxInstructionDefs", "maxStackElements", "maxSizeOfInstructions",
                  "maxComponentElements", "maxPoints", "maxContours", "maxCompositePoints",
                  "maxCompositeContours", "maxComponentDepth"):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    maxp.numGlyphs = len(order)
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    font["post"].formatType = 2.0
    font["post"].extraNames = []
    font["post"].mapping = {}
    font.sfntVersion = "\x00\x01\x00\x00"

    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 4, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 3:
            names.setName(FAMILY + " Regular; subset of Noto Sans CJK SC 2.004",
                          3, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName("GridassessSansSC-Regular", 6, record.platformID, record.platEncID, record.langID)
    font.save(OUT)
    print(f"{OUT}: {len(order)} glyphs")


if __name__ == "__main__":
    main(sys.argv[1])
