#!/usr/bin/env python3
"""chart.py: draw p11bench's results.csv as an SVG bar chart (standard library only).

    python3 bench/chart.py results.csv results.svg

Left: ops/s per workload, one panel per thread count, one bar per module
(the first column of the CSV's module order first), on a log scale.
Right: the first module's ratio to the second module and to the Go ceiling,
one thread, on a log scale centred on 1 (right of the line: faster).
"""
import csv
import math
import sys
from xml.sax.saxutils import escape

COLORS = ["#3465a4", "#f57900", "#4e9a06", "#cc0000", "#75507b", "#c4a000"]
ROW_H = 7          # height of one bar
GAP = 6            # space between workloads
LABEL_W = 190      # workload names
PANEL_W = 300      # one ops/s panel
RATIO_W = 320      # the ratio panel
TOP = 70
FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def load(path):
    rows = list(csv.DictReader(open(path, newline="")))
    workloads, modules, threads = [], [], []
    data = {}
    for r in rows:
        w, m, t = r["workload"], r["module"], int(r["threads"])
        if w not in workloads:
            workloads.append(w)
        if m not in modules:
            modules.append(m)
        if t not in threads:
            threads.append(t)
        ok = r["status"].startswith("ok")
        data[(w, t, m)] = float(r["ops_per_s"]) if ok and float(r["ops_per_s"]) > 0 else None
    return workloads, modules, sorted(threads), data


def fmt(v):
    if v >= 1e6:
        return "%.3gM" % (v / 1e6)
    if v >= 1e4:
        return "%.0fk" % (v / 1e3)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    if v >= 10:
        return "%.0f" % v
    return "%.2g" % v


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: chart.py results.csv out.svg")
    workloads, modules, threads, data = load(sys.argv[1])
    vals = [v for v in data.values() if v]
    if not vals:
        sys.exit("chart.py: no successful results in " + sys.argv[1])
    lo = math.floor(math.log10(min(vals)))
    hi = math.ceil(math.log10(max(vals)))
    if hi == lo:
        hi += 1
    group_h = ROW_H * len(modules) + GAP
    height = TOP + group_h * len(workloads) + 60
    ratio_x0 = LABEL_W + PANEL_W * len(threads) + 30
    width = ratio_x0 + RATIO_W + 40
    ceiling = next((m for m in modules if "ceiling" in m.lower()), None)
    subject = modules[0]
    reference = modules[1] if len(modules) > 1 and modules[1] != ceiling else None

    out = []
    add = out.append
    add("<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' viewBox='0 0 %d %d' %s font-size='10'>"
        % (width, height, width, height, FONT))
    add("<rect width='100%' height='100%' fill='white'/>")
    add("<text x='10' y='18' font-size='14' font-weight='bold'>PKCS#11 throughput, operations per second "
        "(log scale; higher is better)</text>")
    # Legend.
    x = 10
    for i, m in enumerate(modules):
        add("<rect x='%d' y='28' width='10' height='10' fill='%s'/>" % (x, COLORS[i % len(COLORS)]))
        add("<text x='%d' y='37'>%s</text>" % (x + 14, escape(m)))
        x += 24 + 7 * len(m)

    def xpos(v, x0):
        return x0 + (math.log10(v) - lo) / (hi - lo) * (PANEL_W - 20)

    # Workload labels and group separators.
    for wi, w in enumerate(workloads):
        y = TOP + wi * group_h
        add("<text x='%d' y='%d' text-anchor='end'>%s</text>"
            % (LABEL_W - 6, y + group_h / 2, escape(w)))
        if wi:
            add("<line x1='10' x2='%d' y1='%.1f' y2='%.1f' stroke='#eee'/>" % (width - 10, y - GAP / 2, y - GAP / 2))

    # Ops/s panels.
    for ti, t in enumerate(threads):
        x0 = LABEL_W + ti * PANEL_W
        add("<text x='%d' y='%d' font-weight='bold'>%d thread%s</text>" % (x0, TOP - 22, t, "" if t == 1 else "s"))
        for d in range(lo, hi + 1):
            gx = xpos(10 ** d, x0)
            add("<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='#ccc'/>" % (gx, gx, TOP - 8, height - 50))
            add("<text x='%.1f' y='%d' text-anchor='middle' fill='#555'>%s</text>" % (gx, TOP - 10, fmt(10 ** d)))
        for wi, w in enumerate(workloads):
            for mi, m in enumerate(modules):
                v = data.get((w, t, m))
                y = TOP + wi * group_h + mi * ROW_H
                if v is None:
                    add("<text x='%d' y='%d' font-size='7' fill='#999'>n/a</text>" % (x0 + 2, y + ROW_H - 1))
                    continue
                bw = max(1.0, xpos(v, x0) - x0)
                add("<rect x='%d' y='%d' width='%.1f' height='%d' fill='%s'><title>%s, %s, %d thread(s): %.1f ops/s</title></rect>"
                    % (x0, y, bw, ROW_H - 1, COLORS[mi % len(COLORS)], escape(m), escape(w), t, v))
                add("<text x='%.1f' y='%d' font-size='7' fill='#333'>%s</text>" % (x0 + bw + 2, y + ROW_H - 1, fmt(v)))

    # Ratio panel: subject / reference and subject / ceiling, first thread count.
    t = threads[0]
    pairs = [(r, COLORS[modules.index(r) % len(COLORS)]) for r in (reference, ceiling) if r]
    if pairs:
        rlo, rhi = -3, 3  # 0.001x .. 1000x
        def rx(r):
            r = min(max(r, 10 ** rlo), 10 ** rhi)
            return ratio_x0 + (math.log10(r) - rlo) / (rhi - rlo) * RATIO_W
        add("<text x='%d' y='%d' font-weight='bold'>%s ÷ other, %d thread</text>" % (ratio_x0, TOP - 22, escape(subject), t))
        for d in range(rlo, rhi + 1):
            gx = rx(10 ** d)
            add("<line x1='%.1f' x2='%.1f' y1='%d' y2='%d' stroke='%s'/>"
                % (gx, gx, TOP - 8, height - 50, "#000" if d == 0 else "#ccc"))
            add("<text x='%.1f' y='%d' text-anchor='middle' fill='#555'>%s×</text>" % (gx, TOP - 10, ("%g" % (10 ** d))))
        one = rx(1)
        for wi, w in enumerate(workloads):
            s = data.get((w, t, subject))
            for pi, (other, color) in enumerate(pairs):
                o = data.get((w, t, other))
                y = TOP + wi * group_h + pi * ROW_H
                if not s or not o:
                    continue
                r = s / o
                x1, x2 = sorted((one, rx(r)))
                add("<rect x='%.1f' y='%d' width='%.1f' height='%d' fill='%s'><title>%s / %s, %s: %.3f</title></rect>"
                    % (x1, y, max(1.0, x2 - x1), ROW_H - 1, color, escape(subject), escape(other), escape(w), r))
                label = "%.0f" % r if r >= 10 else "%.2g" % r
                if r >= 1:
                    add("<text x='%.1f' y='%d' font-size='7' fill='#333'>%s</text>" % (x2 + 2, y + ROW_H - 1, label))
                else:
                    add("<text x='%.1f' y='%d' font-size='7' fill='#333' text-anchor='end'>%s</text>"
                        % (x1 - 2, y + ROW_H - 1, label))
        add("<text x='%d' y='%d' fill='#555'>colour: the module divided by;</text>" % (ratio_x0, height - 40))
        add("<text x='%d' y='%d' fill='#555'>right of 1×: %s is faster</text>" % (ratio_x0, height - 28, escape(subject)))
    add("<text x='10' y='%d' fill='#555'>Source: %s. n/a: not supported by that module or not a primitive the ceiling has.</text>"
        % (height - 16, escape(sys.argv[1].split("/")[-1])))
    add("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
