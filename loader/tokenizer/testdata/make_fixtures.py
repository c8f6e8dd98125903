#!/usr/bin/env python3
"""Builds the tokenizer test fixtures (run through make_fixtures.sh).

  make_fixtures.py TESTDATA_DIR SHARED_DATA_DIR SCRATCH_DIR

Writes into TESTDATA_DIR:
- wordpiece_oracle.json: ids from the plain-Python BERT tokenizer of
  shared/oracles/torch_multitask.py (BasicTokenizer + greedy WordPiece)
  for EWT sentences and words (bert-base-uncased) and Russian Taiga sentences
  (bert-base-multilingual-cased, cased).
- bpe_tokenizer.json: a small byte-level BPE (RoBERTa layout) whose merges are
  learned here from EWT text by a plain BPE trainer.
- unigram_tokenizer.json: a small sentencepiece unigram model trained here with
  the sentencepiece library and converted like XLM-RoBERTa's tokenizer.json,
  with a hand-written normalization rule set compiled by sentencepiece into a
  precompiled_charsmap (the full nmt_nfkc map is 240 KB).
- texts.json: the texts the HF oracle (hf_golden.js) encodes.
"""
import collections
import json
import os
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2

out_dir, data_dir, scratch = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, os.path.join(data_dir, "..", "oracles"))
import torch_multitask  # noqa: E402  (its WordPiece class is the oracle)


def lines(path):
    with open(path, encoding="utf-8") as f:
        return [l.rstrip("\n") for l in f if l.strip()]


ewt = lines(os.path.join(data_dir, "raw_text/en_ewt_train.txt"))
taiga = lines(os.path.join(data_dir, "raw_text/ru_taiga_train.txt"))
ewt_sample = ewt[::60][:200]
taiga_sample = taiga[::25][:120]

# ---------------------------------------------------------------- WordPiece oracle
vocab_dir = os.path.join(data_dir, "bert_vocab")
uncased = torch_multitask.WordPiece(os.path.join(vocab_dir, "bert-base-uncased/vocab.txt"), lowercase=True)
cased = torch_multitask.WordPiece(os.path.join(vocab_dir, "bert-base-multilingual-cased/vocab.txt"), lowercase=False)


def sentence_ids(tok, text):
    return [i for p in tok.basic(text) for i in tok.wordpiece(p)]


oracle = {
    "uncased_sentences": [{"text": s, "ids": sentence_ids(uncased, s)} for s in ewt_sample],
    "uncased_words": [{"words": s.split(), "ids": [uncased.word_ids(w) for w in s.split()]} for s in ewt_sample[:60]],
    "cased_sentences": [{"text": s, "ids": sentence_ids(cased, s)} for s in taiga_sample],
}
with open(os.path.join(out_dir, "wordpiece_oracle.json"), "w", encoding="utf-8") as f:
    json.dump(oracle, f, ensure_ascii=False, separators=(",", ":"))

# ---------------------------------------------------------------- byte-level BPE


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


B2U = bytes_to_unicode()
words = collections.Counter()
for s in ewt[:3000]:
    for i, w in enumerate(s.split()):
        words["".join(B2U[b] for b in ((" " if i else "") + w).encode("utf-8"))] += 1
splits = {w: list(w) for w in words}
merges = []
for _ in range(600):
    pairs = collections.Counter()
    for w, n in words.items():
        sym = splits[w]
        for a, b in zip(sym, sym[1:]):
            pairs[a, b] += n
    if not pairs:
        break
    best = max(pairs, key=lambda p: (pairs[p], p))
    merges.append(best)
    for w in words:
        sym, out, i = splits[w], [], 0
        while i < len(sym):
            if i + 1 < len(sym) and (sym[i], sym[i + 1]) == best:
                out.append(sym[i] + sym[i + 1])
                i += 2
            else:
                out.append(sym[i])
                i += 1
        splits[w] = out

vocab = {}
for t in ["<s>", "<pad>", "</s>", "<unk>"]:
    vocab[t] = len(vocab)
for b in range(256):
    vocab.setdefault(B2U[b], len(vocab))
for a, b in merges:
    vocab.setdefault(a + b, len(vocab))
vocab["<mask>"] = len(vocab)


def added(tok, lstrip=False):
    return {"id": vocab[tok], "content": tok, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": False, "special": True}


bpe = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [added("<s>"), added("<pad>"), added("</s>"), added("<unk>"), added("<mask>", lstrip=True)],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
                       "add_prefix_space": False},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
              "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
}
with open(os.path.join(out_dir, "bpe_tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(bpe, f, ensure_ascii=False, separators=(",", ":"))

# ---------------------------------------------------------------- sentencepiece unigram
# Normalization rules (source and target code points in hex): a ligature, full-width
# letters, decomposed accents (multi-character keys), an ideographic space, a Hangul
# L+V pair (6 bytes, so HF looks its characters up one by one), a Roman numeral.
rules = [
    ("FB01", "66 69"), ("FF21", "41"), ("FF41", "61"), ("FF42", "62"), ("FF43", "63"), ("65 301", "E9"),
    ("41 30A", "C5"), ("6F 308", "F6"), ("3000", "20"), ("2460", "31"), ("2461", "32"), ("1100 1161", "AC00"),
    ("2163", "49 56"), ("9", "20"),
]
tsv = os.path.join(scratch, "rules.tsv")
with open(tsv, "w") as f:
    for src, dst in rules:
        f.write(f"{src}\t{dst}\n")
corpus = os.path.join(scratch, "corpus.txt")
with open(corpus, "w", encoding="utf-8") as f:
    f.write("\n".join(ewt[:3000]) + "\n")
prefix = os.path.join(scratch, "uni")
spm.SentencePieceTrainer.train(input=corpus, model_prefix=prefix, vocab_size=400, model_type="unigram",
                               normalization_rule_tsv=tsv, character_coverage=1.0, minloglevel=2)
proto = sentencepiece_model_pb2.ModelProto()
with open(prefix + ".model", "rb") as f:
    proto.ParseFromString(f.read())
pieces = [[p.piece, p.score] for p in proto.pieces]
unk_id = next(i for i, p in enumerate(proto.pieces) if p.type == 2)
pieces.append(["<mask>", 0.0])
import base64  # noqa: E402

charsmap = base64.b64encode(proto.normalizer_spec.precompiled_charsmap).decode()
ids = {p[0]: i for i, p in enumerate(pieces)}


def uadded(tok, lstrip=False):
    return {"id": ids[tok], "content": tok, "single_word": False, "lstrip": lstrip, "rstrip": False,
            "normalized": False, "special": True}


unigram = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [uadded("<unk>"), uadded("<s>"), uadded("</s>"), uadded("<mask>", lstrip=True)],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Precompiled", "precompiled_charsmap": charsmap},
        {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
    "post_processor": {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                  {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                       "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                                {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}},
                                {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
                       "special_tokens": {"<s>": {"id": "<s>", "ids": [ids["<s>"]], "tokens": ["<s>"]},
                                          "</s>": {"id": "</s>", "ids": [ids["</s>"]], "tokens": ["</s>"]}}},
    "decoder": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": True},
    "model": {"type": "Unigram", "unk_id": unk_id, "vocab": pieces, "byte_fallback": False},
}
with open(os.path.join(out_dir, "unigram_tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(unigram, f, ensure_ascii=False, separators=(",", ":"))

# ---------------------------------------------------------------- texts for the HF oracle
tricky = [
    "", " ", "\n", "Hello, world! How are you?",
    "don't stop: it's 5.5 o'clock; we'll see 'em, they're here, I'd go, you've been, I'm in",
    "I'VE GOT IT, DON'T 'S ' s'' 't",
    "  leading spaces and   multiple   spaces  ",
    "tabs\tand\nnewlines\n\nhere\r\nend \n x",
    "numbers 123 4,567.89 ①②③ ٣٤٥ 3rd 2x",
    "unicode: naïve café résumé Ångström Ελληνικά Русский текст 北京大学 日本語テキスト 한국어",
    "emoji 🥰😀👍🏻 and symbols ™ © ® ° ± § ¶ ^ $ ` ~",
    "control\u0000chars\u0007here\u00adsoft\u200bzero\ufffdrepl",
    "[CLS] special [SEP] tokens [MASK] in[MASK]text [UNK] <s> </s> <mask> <pad>",
    "hello<mask>world hello <mask> world <mask>",
    "\ufb01 ligature \uff21\uff42\uff43 fullwidth e\u0301 combining A\u030a \uff21\u0301 \u3000ideographic o\u0308",
    "\u1100\u1161 Hangul jamo \u2163 \u2460\u2461 tab\there",
    "a" * 120, "b" * 100, "c" * 101,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "x\u00a0y\u2009z\u3000w\u202fv \u00a0 \u00a0 u",
    "a\u2028b\u2029c\u0085d\u000be\u000cf",
    "Ⅳ Ⅻ ㈱ ℌ ℝ ½",
    "\U0002b820 \U0002b920 \u4e00\u9fff",
    "İstanbul ΟΔΟΣ straße ǅ ẞ",
    "\u0378 unassigned \ue000 private",
    "مرحبا بالعالم शब्द ไทย",
    "end with space ", " start with space", "trailing newline\n",
    "Mr. O'Neil's co-op (est. 1999) -- \"quoted\" & <b>tags</b> e-mail@x.com http://a.b/c?d=e",
    "  ", "\t\t", "a  b", "a   b", "a\n\nb", "a \nb", "a\n b",
]
texts = {"ewt": ewt_sample[:150], "taiga": taiga_sample[:40], "tricky": tricky,
         "words": [s.split() for s in ewt_sample[:40]] + [["", "x"], ["\u0000", "y"], ["e\u0301", "\u00ad"]],
         "pairs": [[ewt_sample[i], ewt_sample[i + 1]] for i in range(0, 20, 2)]}
with open(os.path.join(out_dir, "texts.json"), "w", encoding="utf-8") as f:
    json.dump(texts, f, ensure_ascii=False, separators=(",", ":"))
