#!/bin/sh
# Fixtures for the loader's tests, made with the PyTorch oracles. Run from the
# repository root: sh loader/testdata/make_fixtures.sh
#   micro/        a micro BERT checkpoint (model.safetensors with "bert." keys and
#                 a 3-label classifier, which the loader must report, not load)
#   bin-zip/      the same weights as pytorch_model.bin (torch >= 1.6 zip format, F16)
#   bin-legacy/   the same weights as a legacy (torch < 1.6) pytorch_model.bin in F32,
#                 without prefix and with LayerNorm gamma/beta names
#   roberta.json, electra.json  configs of other model types
set -e
PY=${PY:-/usr/bin/python3}
O=${ORACLES:-../shared/oracles}
D=loader/testdata
rm -rf "$D/micro" "$D/bin-zip" "$D/bin-legacy"
$PY $O/make_checkpoint.py "$D/micro" --preset micro --seed 11 --num-labels 3 >/dev/null
rm -f "$D/micro/tokenizer_config.json" "$D/micro/special_tokens_map.json"
mkdir -p "$D/bin-zip" "$D/bin-legacy"
cp "$D/micro/config.json" "$D/bin-zip/" && cp "$D/micro/config.json" "$D/bin-legacy/"
$PY - "$O" "$D" <<'PYEOF'
import collections, sys, torch
sys.path.insert(0, sys.argv[1])
import st_io
d = sys.argv[2]
sd = st_io.load_file(f"{d}/micro/model.safetensors")
torch.save(collections.OrderedDict((k, v.half()) for k, v in sd.items()), f"{d}/bin-zip/pytorch_model.bin")
legacy = collections.OrderedDict()
for k, v in sd.items():
    k = k[len("bert."):] if k.startswith("bert.") else k
    k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
    legacy[k] = v
torch.save(legacy, f"{d}/bin-legacy/pytorch_model.bin", _use_new_zipfile_serialization=False)
PYEOF
du -sh "$D"
