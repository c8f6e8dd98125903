#!/usr/bin/env python3
"""Regenerate the fixtures of package loader/onnxweights (run from the repository root):

    /usr/bin/python3 loader/onnxweights/testdata/make_fixtures.py

Needs the system python with torch 1.13 and onnx 1.12, and the oracles in ../shared/oracles.
Two tiny checkpoints (make_checkpoint.py, micro preset shrunk further) are exported with export_onnx.py:

  a: 2 layers, hidden 16, 2 heads, ffn 32, gelu, eps 1e-12, pooler, 3-label classifier.
     Every bias and LayerNorm parameter is redrawn at random, so that no two parameters are equal
     (torch would otherwise deduplicate them) and a swapped query/key bias would be caught.
     -> a_op11_tc.onnx (opset 11, token-classification head), a_op17.onnx (opset 17, LayerNormalization)
  b: 3 layers, hidden 16, 8 heads, ffn 32, gelu_new, eps 1e-5, type vocab 3, no pooler, plain HF init
     (zero biases, unit LayerNorm weights: the export deduplicates them behind Identity nodes).
     -> b_op14.onnx (opset 14)

For each export, X_anon.onnx renames every initializer (init_N), node (node_N) and intermediate value
(v_N), so that only the graph's structure identifies the parameters; graph inputs and outputs keep
their names. a.safetensors / b.safetensors and a.config.json / b.config.json are the checkpoints'
weights and configs, against which the extracted tensors are compared bit for bit.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
ORACLES = os.environ.get("ORACLES", os.path.join(ROOT, "..", "shared", "oracles"))
sys.path.insert(0, ORACLES)
import st_io  # noqa: E402

PY = sys.executable
SMALL = ["--preset", "micro", "--hidden", "16", "--ffn", "32", "--vocab-size", "64", "--max-pos", "32"]


def run(*args):
    subprocess.run([PY, *args], check=True, stdout=subprocess.DEVNULL)


def perturb(ckpt, seed):
    """Redraws every bias and LayerNorm parameter of the checkpoint."""
    path = os.path.join(ckpt, "model.safetensors")
    sd = st_io.load_file(path)
    g = torch.Generator().manual_seed(seed)
    for k in sorted(sd):
        if k.endswith(".bias") or "LayerNorm" in k:
            sd[k] = torch.randn(sd[k].shape, generator=g) * 0.1 + (1 if k.endswith("LayerNorm.weight") else 0)
    st_io.save_file(sd, path, metadata={"format": "pt"})


def anonymize(src, dst):
    """Renames initializers, nodes and intermediate values; keeps graph inputs and outputs."""
    m = onnx.load(src)
    g = m.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    names = {}
    for i, t in enumerate(g.initializer):
        names[t.name] = f"init_{i}"
    for n in g.node:
        for o in n.output:
            if o and o not in keep and o not in names:
                names[o] = f"v_{len(names)}"
    for t in g.initializer:
        t.name = names[t.name]
    for i, n in enumerate(g.node):
        n.name = f"node_{i}"
        n.input[:] = [names.get(x, x) for x in n.input]
        n.output[:] = [names.get(x, x) for x in n.output]
    for v in list(g.input) + list(g.value_info):
        v.name = names.get(v.name, v.name)
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, dst)


def main():
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
        run(os.path.join(ORACLES, "make_checkpoint.py"), a, *SMALL, "--seed", "11", "--layers", "2", "--heads", "2",
            "--num-labels", "3")
        perturb(a, 12)
        run(os.path.join(ORACLES, "make_checkpoint.py"), b, *SMALL, "--seed", "21", "--layers", "3", "--heads", "8",
            "--no-pooler", "--hidden-act", "gelu_new", "--layer-norm-eps", "1e-5", "--type-vocab", "3", "--no-prefix")
        exports = [(a, "a_op11_tc", ["--opset", "11", "--head", "token-classification"]),
                   (a, "a_op17", ["--opset", "17"]),
                   (b, "b_op14", ["--opset", "14"])]
        for ckpt, name, args in exports:
            out = os.path.join(HERE, name + ".onnx")
            run(os.path.join(ORACLES, "export_onnx.py"), ckpt, out, *args)
            onnx.checker.check_model(onnx.load(out), full_check=True)
            anonymize(out, os.path.join(HERE, name + "_anon.onnx"))
        for ckpt in (a, b):
            tag = os.path.basename(ckpt)
            shutil.copyfile(os.path.join(ckpt, "model.safetensors"), os.path.join(HERE, tag + ".safetensors"))
            shutil.copyfile(os.path.join(ckpt, "config.json"), os.path.join(HERE, tag + ".config.json"))
    for f in sorted(os.listdir(HERE)):
        print(f"{os.path.getsize(os.path.join(HERE, f)):8d} {f}")


if __name__ == "__main__":
    main()
