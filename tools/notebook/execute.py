"""Executes one notebook with the tslab kernel and writes executed .ipynb and .html copies.

Called by tools/notebook/runner.ts (keep the logic there; this file only drives nbclient, because
Jupyter's execution machinery is Python). Prints one JSON line on stdout:
  {"ok": true, "cells": [[texts of run 1 per cell], [run 2]], "seconds": [[seconds per cell, run 1], [run 2]]}
  {"ok": false, "cell": index, "source": "...", "error": "ename: evalue", "traceback": "..."}
"""
import json
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbconvert import HTMLExporter


def cell_text(cell):
    """The visible text of a code cell's outputs, to compare runs."""
    parts = []
    for o in cell.get("outputs", []):
        if o.output_type == "stream":
            parts.append(o.text)
        elif o.output_type in ("execute_result", "display_data"):
            data = o.get("data", {})
            parts.append(data.get("text/plain") or data.get("text/html", "")[:2000])
        elif o.output_type == "error":
            parts.append(o.ename + ": " + o.evalue)
    return "".join(parts)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOTLY = os.path.join(ROOT, "node_modules", "plotly.js-dist-min", "plotly.min.js")


def with_plotly(html):
    """Charts inline plotly.js only in the first figure a kernel draws, so the outputs of a re-run
    cell may lack it; the exported page gets the library once in <head> so every chart renders."""
    if 'class="plotly-figure"' not in html or not os.path.exists(PLOTLY):
        return html
    with open(PLOTLY, encoding="utf-8") as f:
        lib = f.read()
    return html.replace("</head>", '<script type="text/javascript">' + lib + "</script></head>", 1)


def report_failure(nb, cell, index, run, exc, path):
    """tslab reports TypeScript compile errors on stderr with an empty exception, so both count."""
    err = next((o for o in cell.get("outputs", []) if o.output_type == "error"), None)
    stderr = "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == "stderr")
    message = f"{err.ename}: {err.evalue}" if err else str(exc).splitlines()[-1]
    if stderr.strip():
        message = (message + " " + stderr.strip()).strip()
    print(json.dumps({
        "ok": False, "run": run + 1, "cell": index, "source": cell.source, "error": message,
        "traceback": "\n".join(err.traceback) if err else str(exc),
    }))
    nbformat.write(nb, path)


def main():
    src, out_dir, kernel, timeout, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    nb = nbformat.read(src, as_version=4)
    name = os.path.splitext(os.path.basename(src))[0]
    client = NotebookClient(nb, kernel_name=kernel, timeout=timeout, allow_errors=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}})
    # runs == 2: every cell is executed twice in a row before the next one starts, as a learner
    # re-running a cell would: the check that any cell can be re-run (no duplicate named things,
    # no leaks, the same results). runs_text[r] holds each cell's output of its (r+1)-th execution.
    runs_text = [[] for _ in range(runs)]
    seconds = [[] for _ in range(runs)]
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for run in range(runs):
                started = time.monotonic()
                # execute_cell empties the cell's outputs but nbclient keeps the output positions of
                # its display ids (a training chart redrawn in place): an update for a display of the
                # first run would then write past the end of the new, shorter output list.
                client.clear_display_id_mapping(index)
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as e:
                    report_failure(nb, cell, index, run, e, os.path.join(out_dir, name + ".failed.ipynb"))
                    return 1
                seconds[run].append(round(time.monotonic() - started, 2))
                runs_text[run].append(cell_text(cell))
    nbformat.write(nb, os.path.join(out_dir, name + ".ipynb"))
    html, _ = HTMLExporter().from_notebook_node(nb)
    html = with_plotly(html)
    with open(os.path.join(out_dir, name + ".html"), "w", encoding="utf-8") as f:
        f.write(html)
    print(json.dumps({"ok": True, "cells": runs_text, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
