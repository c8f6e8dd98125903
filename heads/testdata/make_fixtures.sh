#!/bin/sh
# Reference masked-LM logits for the MLM head test, computed with PyTorch
# from encoder/testdata/parity/micro-bf16-mlmhead (its cls.predictions.*
# weights, the word embeddings as the tied decoder) and that case's
# reference hidden states. Run from the repository root:
#   sh heads/testdata/make_fixtures.sh
set -e
PY=${PY:-/usr/bin/python3}
O=${ORACLES:-../shared/oracles}
$PY - "$O" <<'PYEOF'
import sys, torch, torch.nn.functional as F
sys.path.insert(0, sys.argv[1])
import st_io
case = "encoder/testdata/parity/micro-bf16-mlmhead"
w = {k: v.float() for k, v in st_io.load_file(f"{case}/ckpt/model.safetensors").items()}
ref = st_io.load_file(f"{case}/ref.safetensors")
h = ref["last_hidden_state"].reshape(-1, w["bert.embeddings.word_embeddings.weight"].shape[1])
# Give the head non-trivial biases and LayerNorm so that every term is tested.
g = torch.Generator().manual_seed(9)
H, V = h.shape[1], w["cls.predictions.bias"].shape[0]
head = {"cls.predictions.transform.dense.weight": w["cls.predictions.transform.dense.weight"],
        "cls.predictions.transform.dense.bias": torch.randn(H, generator=g) * 0.1,
        "cls.predictions.transform.LayerNorm.weight": 1 + torch.randn(H, generator=g) * 0.1,
        "cls.predictions.transform.LayerNorm.bias": torch.randn(H, generator=g) * 0.1,
        "cls.predictions.bias": torch.randn(V, generator=g) * 0.1}
t = F.gelu(h @ head["cls.predictions.transform.dense.weight"].T + head["cls.predictions.transform.dense.bias"])
t = F.layer_norm(t, (H,), head["cls.predictions.transform.LayerNorm.weight"], head["cls.predictions.transform.LayerNorm.bias"], eps=1e-12)
logits = t @ w["bert.embeddings.word_embeddings.weight"].T + head["cls.predictions.bias"]
st_io.save_file(dict(head, logits=logits), "heads/testdata/mlm_ref.safetensors")
PYEOF
