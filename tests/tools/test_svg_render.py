#!/usr/bin/env python3
"""clgrad-train's SVG charts render in a browser: a short run writes the loss/accuracy
curves (--plot) and eval writes the confusion heat map; headless Chromium takes a
screenshot of each, and the screenshots must show the series' colours (the curves were
drawn) and the heat map's shades. Exits 77 (skipped) when no headless Chromium is
installed or there is no OpenCL device. (The XML structure of the same files is checked
everywhere by test_train_data.py.)

Usage: test_svg_render.py PATH-TO-clgrad-train. Standard library only (a small PNG
decoder below).
"""

import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

SKIP = 77


def png_pixels(path):
    """(width, height, rows of (r, g, b) tuples) of an 8-bit RGB or RGBA PNG."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6), (depth, ctype)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = w * bpp
    rows, prev = [], bytearray(stride)
    for y in range(h):
        ft = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ft == 1:
                line[i] = (line[i] + a) & 255
            elif ft == 2:
                line[i] = (line[i] + b) & 255
            elif ft == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif ft == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(w)])
        prev = line
    return w, h, rows


def near(px, rgb, tol=40):
    return all(abs(p - q) <= tol for p, q in zip(px, rgb))


def count(rows, rgb):
    return sum(near(px, rgb) for row in rows for px in row)


def main():
    exe = os.path.abspath(sys.argv[1])
    browser = next((shutil.which(b) for b in ("chromium", "chromium-headless-shell", "chromium-browser",
                                              "google-chrome") if shutil.which(b)), None)
    if not browser:
        print("skipped: no headless Chromium (Debian: apt-get install chromium)")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="clgrad-svg-")
    rnd = random.Random(3)
    with open(os.path.join(tmp, "d.csv"), "w") as f:
        f.write("a,b,y\n")
        for _ in range(200):
            k = rnd.randrange(3)
            f.write("%f,%f,%d\n" % (rnd.gauss(2 * k, 1), rnd.gauss(-k, 1), k))
    ck = os.path.join(tmp, "m.safetensors")

    def run(*args):
        p = subprocess.run([exe] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp,
                           timeout=300)
        if p.returncode == 1 and "cannot open the device" in p.stderr:
            print("skipped: no OpenCL device")
            sys.exit(SKIP)
        assert p.returncode == 0, p.stderr

    run("--data", "d.csv", "--net", "fc8-relu-fc", "--epochs", "4", "--val-split", "0.2", "--checkpoint", ck,
        "--plot", "curves.svg", "--quiet")
    run("eval", "--checkpoint", ck, "--data", "d.csv", "--plot", "cm.svg", "--quiet")
    for svg, size in (("curves.svg", "1000,420"), ("cm.svg", "500,300")):
        png = os.path.join(tmp, svg + ".png")
        p = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            "--screenshot=" + png, "--window-size=" + size, "file://" + os.path.join(tmp, svg)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        assert os.path.exists(png), p.stderr.decode(errors="replace")[-2000:]
        w, h, rows = png_pixels(png)
        if svg == "curves.svg":
            # train (blue), validation (orange) and test (green) curves, in both panels.
            for rgb in ((0x1f, 0x77, 0xb4), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c)):
                assert count(rows, rgb) > 50, (svg, rgb, count(rows, rgb))
            right = [row[w // 2:] for row in rows]
            assert count(right, (0xff, 0x7f, 0x0e)) > 20, "no accuracy curve in the right panel"
        else:
            # Cells shaded blue by their share: several distinct shades of (s, s, 255).
            shades = {px[0] for row in rows for px in row if px[2] >= 250 and px[0] == px[1] and px[0] < 230}
            cells = sum(1 for row in rows for px in row if px[2] >= 250 and px[0] == px[1] and px[0] < 230)
            assert len(shades) >= 2 and cells > 500, (sorted(shades), cells)
        print("%s renders (%dx%d)" % (svg, w, h))
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
