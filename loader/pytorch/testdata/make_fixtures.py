#!/usr/bin/python3
"""Write the torch.save fixtures of the loader/pytorch tests.

Run from the repository root with the system python (PyTorch 1.13):

    /usr/bin/python3 loader/pytorch/testdata/make_fixtures.py

For each float dtype D in f32, f16, bf16 it writes

    zip_D.pt           torch.save, zip format (top folder "zip_D")
    legacy_D.pt        torch.save(..., _use_new_zipfile_serialization=False)
    want_D.safetensors every tensor of the state dict, contiguous

and also wrapped.pt: {"state_dict": <the f32 state dict>, "epoch": 3,
"optimizer": <Adam state>} in the zip format (top folder "archive"), pickle
protocol 4, whose tensors are want_f32.safetensors.

The state dict is an nn.Module's (an OrderedDict with _metadata) plus
hand-made tensors: tied weights, a transposed weight, two slices of one
storage at different offsets, a strided slice, 0-dim and empty tensors, an
nn.Parameter and one tensor of every integer type.
"""
import io
import os
import sys

import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "..", "shared", "oracles"))
sys.path.insert(0, "/work/shared/oracles")
import st_io  # noqa: E402

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(6, 4)
        self.norm = nn.LayerNorm(4)
        self.bn = nn.BatchNorm1d(2)  # num_batches_tracked: a 0-dim int64 buffer
        self.decoder = nn.Linear(4, 6, bias=False)
        self.decoder.weight = self.emb.weight  # tied, as BERT's MLM decoder
        # As HF BERT: a [1, 7] view of a 7-element storage with stride (0, 1).
        self.register_buffer("position_ids", torch.arange(7).expand((1, -1)))


def state_dict(dtype):
    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():
        model.norm.weight.normal_()
        model.bn.running_mean.normal_()
    model.bn.num_batches_tracked += 5
    model = model.to(dtype)
    sd = model.state_dict()

    def randn(*shape):
        return torch.randn(*shape).to(dtype)

    sd["transposed"] = randn(3, 5).t()
    base = randn(10)
    sd["shared.a"] = base[:4]
    sd["shared.b"] = base[4:].view(2, 3)
    sd["strided"] = randn(4, 6)[1:3, ::2]
    sd["scalar"] = torch.tensor(3.5, dtype=dtype)
    sd["empty"] = torch.zeros(0, 3, dtype=dtype)
    sd["param"] = nn.Parameter(randn(2))
    sd["f64"] = torch.tensor([1.0 / 3, -2.5e-300], dtype=torch.float64)
    sd["i32"] = torch.tensor([-2**31, 2**31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([[-7, 300]], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 255], dtype=torch.uint8)
    sd["mask"] = torch.tensor([True, False, True])
    sd["i64_big"] = torch.tensor([2**40 + 3, -(2**62)], dtype=torch.int64)
    assert not sd["transposed"].is_contiguous() and not sd["strided"].is_contiguous()
    assert sd["strided"].storage_offset() == 6 and sd["shared.b"].storage_offset() == 4
    assert hasattr(sd, "_metadata")
    return sd


def main():
    for name, dtype in DTYPES.items():
        sd = state_dict(dtype)
        torch.save(sd, os.path.join(HERE, f"zip_{name}.pt"))
        torch.save(sd, os.path.join(HERE, f"legacy_{name}.pt"), _use_new_zipfile_serialization=False)
        want = {k: v.detach().contiguous() for k, v in sd.items()}
        st_io.save_file(want, os.path.join(HERE, f"want_{name}.safetensors"))
        for prefix in ("zip", "legacy"):
            got = torch.load(os.path.join(HERE, f"{prefix}_{name}.pt"))
            assert all(torch.equal(got[k], want[k]) for k in want), (prefix, name)

    model = Tiny()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.emb(torch.tensor([1, 2])).sum().backward()
    opt.step()
    buf = io.BytesIO()  # saving to a buffer names the top folder "archive"
    torch.save({"state_dict": state_dict(torch.float32), "epoch": 3, "optimizer": opt.state_dict()},
               buf, pickle_protocol=4)
    with open(os.path.join(HERE, "wrapped.pt"), "wb") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
