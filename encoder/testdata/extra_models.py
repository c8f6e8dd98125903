#!/usr/bin/env python3
"""Reference RoBERTa and ELECTRA checkpoints + outputs, built on the oracle's plain-PyTorch BERT.

  python3 extra_models.py ORACLES_DIR OUT_DIR {roberta,electra}

RoBERTa = BERT with positions numbered from pad_token_id+1 over non-padding tokens
(HF create_position_ids_from_input_ids), pad_token_id 1, type_vocab_size 1, keys under "roberta.".
ELECTRA = BERT whose embeddings have width embedding_size, followed by the Linear
"embeddings_project" to hidden_size; keys under "electra.", no pooler.
Writes OUT_DIR/ckpt/{config.json,model.safetensors} and OUT_DIR/ref.safetensors (hidden_states.i,
last_hidden_state, pooler_output if any) for a fixed padded batch.
"""
import json
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, sys.argv[1])
import bert_ref  # noqa: E402
import st_io  # noqa: E402

out, kind = sys.argv[2], sys.argv[3]
os.makedirs(os.path.join(out, "ckpt"), exist_ok=True)
g = torch.Generator().manual_seed(3)

if kind == "roberta":
    cfg = bert_ref.make_config("micro", pad_token_id=1, type_vocab_size=1, max_position_embeddings=40)
    cfg.update(model_type="roberta", architectures=["RobertaModel"], layer_norm_eps=1e-5)
    model = bert_ref.BertModel(cfg)
    bert_ref.init_weights(model, cfg, g)

    def embed(input_ids, token_type_ids=None, _e=model.embeddings):
        m = input_ids.ne(cfg["pad_token_id"]).int()
        pos = (torch.cumsum(m, dim=1) * m).long() + cfg["pad_token_id"]
        tt = torch.zeros_like(input_ids) if token_type_ids is None else token_type_ids
        e = _e.word_embeddings(input_ids) + _e.token_type_embeddings(tt) + _e.position_embeddings(pos)
        return _e.LayerNorm(e)
    model.embeddings.forward = embed
    prefix = "roberta."
    pad, lo = 1, 5
else:
    E = 16
    cfg = bert_ref.make_config("micro")
    cfg.update(model_type="electra", architectures=["ElectraModel"], embedding_size=E, hidden_act="gelu")
    ecfg = dict(cfg, hidden_size=E)
    model = bert_ref.BertModel(cfg, add_pooling_layer=False)
    model.embeddings = bert_ref.BertEmbeddings(ecfg)
    model.embeddings_project = nn.Linear(E, cfg["hidden_size"])
    bert_ref.init_weights(model, cfg, g)
    inner = model.embeddings.forward

    def embed(input_ids, token_type_ids=None):
        return model.embeddings_project(inner(input_ids, token_type_ids))
    model.embeddings.forward = embed
    prefix = "electra."
    pad, lo = 0, 5

model.eval()
B, S = 3, 12
ids = torch.full((B, S), pad, dtype=torch.int64)
mask = torch.zeros((B, S), dtype=torch.int64)
for b, L in enumerate([S, 9, 4]):
    ids[b, :L] = torch.randint(lo, cfg["vocab_size"], (L,), generator=g)
    mask[b, :L] = 1
tt = torch.zeros_like(ids)
with torch.no_grad():
    res = model(ids, mask, tt)
sd = {prefix + k: v.contiguous() for k, v in model.state_dict().items()}
with open(os.path.join(out, "ckpt", "config.json"), "w") as f:
    json.dump(cfg, f, indent=2, sort_keys=True)
st_io.save_file(sd, os.path.join(out, "ckpt", "model.safetensors"), metadata={"format": "pt"})
ref = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt, "last_hidden_state": res["last_hidden_state"]}
for i, h in enumerate(res["hidden_states"]):
    ref[f"hidden_states.{i}"] = h
if "pooler_output" in res:
    ref["pooler_output"] = res["pooler_output"]
st_io.save_file(ref, os.path.join(out, "ref.safetensors"))
print(f"wrote {out}: {kind}, {len(sd)} tensors")
