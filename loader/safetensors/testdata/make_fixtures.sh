#!/bin/sh
# Writes oracle.safetensors with the plain-PyTorch oracle's independent writer
# (../shared/oracles/st_io.py): one tensor of each dtype, with known values.
# Run from the repository root: sh loader/safetensors/testdata/make_fixtures.sh
set -e
PY=${PY:-/usr/bin/python3}
ORACLES=${ORACLES:-../shared/oracles}
$PY - "$ORACLES" loader/safetensors/testdata/oracle.safetensors <<'PYEOF'
import sys, torch
sys.path.insert(0, sys.argv[1])
import st_io
v = torch.tensor([[1.5, -2.25, 3.0], [0.0, 1e-3, -65504.0]])
st_io.save_file({
    "f32": v, "f16": v.half(), "bf16": v.bfloat16(), "f64": v.double(),
    "i64": torch.tensor([-1, 2, 1 << 40]), "i32": torch.tensor([7, -7], dtype=torch.int32),
    "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False]),
    "scalar": torch.tensor(4.0), "empty": torch.zeros(0, 3),
}, sys.argv[2], metadata={"format": "pt", "note": "hiertune fixture"})
PYEOF
