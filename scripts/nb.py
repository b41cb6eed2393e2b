"""Writes a notebook from a compact Python description: cells = [("md", text) | ("code", text)].

Notebook sources stay reviewable as .ipynb (what learners open); this just saves typing JSON.
Usage: python3 scripts/nb.py  (imported by the notebooks/*.py generators) — or import `write`.
"""
import json
import hashlib


def write(path, cells):
    out = []
    for kind, text in cells:
        text = text.strip("\n")
        cid = hashlib.sha1((path + text).encode()).hexdigest()[:8]
        if kind == "md":
            out.append({"cell_type": "markdown", "id": cid, "metadata": {}, "source": text})
        else:
            out.append({"cell_type": "code", "id": cid, "metadata": {}, "execution_count": None,
                        "outputs": [], "source": text})
    nb = {
        "cells": out,
        "metadata": {
            "kernelspec": {"name": "tslab-whisper", "display_name": "TypeScript (whisper)", "language": "typescript"},
            "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")
