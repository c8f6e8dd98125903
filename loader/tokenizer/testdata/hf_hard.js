// Writes hf_hard.json.gz: what HuggingFace tokenizers (the npm package
// "tokenizers" 0.23.2, the Rust library's Node binding) gives for the lines
// of hard_lines.json, with every shared BERT vocabulary and the two fixture
// tokenizers of this directory. Run through make_hard_fixtures.sh:
//   NODE_PATH=SCRATCH/node_modules node hf_hard.js TESTDATA_DIR SHARED_DATA_DIR
//
// The vocab.txt-only vocabularies (bert-base-cased, bert-base-multilingual-
// cased) are given the tokenizer.json that transformers' BertTokenizerFast
// converts a vocab.txt to: BertNormalizer (clean_text, handle_chinese_chars,
// strip_accents null, lowercase = do_lower_case, false for both),
// BertPreTokenizer, WordPiece with "##" and max_input_chars_per_word 100,
// [CLS] A [SEP] / [CLS] A [SEP] B [SEP], and [PAD] [UNK] [CLS] [SEP] [MASK]
// as special added tokens that are not normalized.
//
// For the shared vocab.txt vocabularies, "python" is also given where its ids or
// word ids differ from HF's: HF's encoding of the line as transformers'
// (slow, Python) BertTokenizer reads it, which is how this package's Load
// reads a vocab.txt (see bertTokenizerReading).
//
// invalid_hex lines are not UTF-8. The binding takes only strings, so each is
// read as Go's utf8.DecodeRune reads it: a valid sequence is one character,
// and every byte that starts none is one U+FFFD. The result ("replaced") is
// what HF encodes; offsets are byte offsets of the replaced text.
//
// hard_lines.json is written by hand: edit it, then run
// make_hard_fixtures.sh.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');
const tk = require('tokenizers');

const [dir, data] = process.argv.slice(2);
const lines = JSON.parse(fs.readFileSync(path.join(dir, 'hard_lines.json'), 'utf8'));

// decodeLikeGo decodes bytes as Go does, one U+FFFD per byte that starts no
// valid sequence (Unicode's Table 3-7 of well-formed sequences).
function decodeLikeGo(b) {
  let out = '';
  const cont = (i, lo = 0x80, hi = 0xbf) => i < b.length && b[i] >= lo && b[i] <= hi;
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    let n = 0;
    if (c < 0x80) n = 1;
    else if (c >= 0xc2 && c <= 0xdf) n = cont(i + 1) ? 2 : 0;
    else if (c >= 0xe0 && c <= 0xef) {
      const lo = c === 0xe0 ? 0xa0 : 0x80;
      const hi = c === 0xed ? 0x9f : 0xbf;
      n = cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
    } else if (c >= 0xf0 && c <= 0xf4) {
      const lo = c === 0xf0 ? 0x90 : 0x80;
      const hi = c === 0xf4 ? 0x8f : 0xbf;
      n = cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
    }
    if (n === 0) {
      out += '\ufffd';
      i++;
    } else {
      out += b.subarray(i, i + n).toString('utf8');
      i += n;
    }
  }
  return out;
}

// bertTokenizerReading does the steps where BertTokenizer differs from HF's
// BertNormalizer, before the ones they share: it drops NUL, U+FFFD and every
// character of category C but tab, newline and carriage return (HF keeps
// unassigned code points), puts spaces around CJK Extension E ideographs
// from U+2B820 (HF's range starts at U+2B920), and applies NFC (HF does not).
function bertTokenizerReading(text) {
  let s = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    if (cp === 0 || cp === 0xfffd || (/\p{C}/u.test(ch) && !'\t\n\r'.includes(ch))) continue;
    s += cp >= 0x2b820 && cp <= 0x2b91f ? ` ${ch} ` : ch;
  }
  return s.normalize('NFC');
}

// The binding reports offsets in characters (code points); convert them to
// UTF-8 byte offsets.
function byteOffsets(text, offsets) {
  const pos = [0];
  for (const ch of text) pos.push(pos[pos.length - 1] + Buffer.byteLength(ch, 'utf8'));
  return offsets.map(([a, b]) => [pos[a], pos[b]]);
}

// bertJSON is the tokenizer.json BertTokenizerFast makes of a vocab.txt.
function bertJSON(vocabFile, lowercase) {
  const toks = fs.readFileSync(vocabFile, 'utf8').replace(/\n$/, '').split('\n');
  const vocab = {};
  toks.forEach((t, i) => {
    vocab[t] = i;
  });
  const specials = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const ref = (id, typ) => ({ SpecialToken: { id, type_id: typ } });
  const seq = (id, typ) => ({ Sequence: { id, type_id: typ } });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((s) => ({
      id: vocab[s], content: s, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [ref('[CLS]', 0), seq('A', 0), ref('[SEP]', 0)],
      pair: [ref('[CLS]', 0), seq('A', 0), ref('[SEP]', 0), seq('B', 1), ref('[SEP]', 1)],
      special_tokens: {
        '[CLS]': { id: '[CLS]', ids: [vocab['[CLS]']], tokens: ['[CLS]'] },
        '[SEP]': { id: '[SEP]', ids: [vocab['[SEP]']], tokens: ['[SEP]'] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab,
    },
  });
}

// run encodes every line; vocabTxt adds the BertTokenizer reading.
async function run(t, vocabTxt) {
  t.disableTruncation(); // all-MiniLM-L6-v2 truncates and pads to 128
  t.disablePadding();
  const words = (e) => e.getWordIds().map((w) => (w === null || w === undefined ? -1 : w));
  const encode = async (text) => {
    const e = await t.encode(text, null, { addSpecialTokens: false });
    const s = await t.encode(text);
    const r = {
      ids: e.getIds(),
      words: words(e),
      offsets: byteOffsets(text, e.getOffsets()),
      decoded: await t.decode(e.getIds(), true),
      special: s.getIds(),
    };
    const py = bertTokenizerReading(text);
    if (vocabTxt && py !== text) {
      const p = await t.encode(py, null, { addSpecialTokens: false });
      const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
      if (!same(p.getIds(), r.ids) || !same(words(p), r.words)) r.python = { text: py, ids: p.getIds(), words: words(p) };
    }
    return r;
  };
  const out = { valid: [], invalid: [] };
  for (const text of lines.valid) out.valid.push(await encode(text));
  for (const hex of lines.invalid_hex) {
    const replaced = decodeLikeGo(Buffer.from(hex, 'hex'));
    out.invalid.push({ replaced, ...(await encode(replaced)) });
  }
  return out;
}

(async () => {
  const bv = path.join(data, 'bert_vocab');
  const golden = {
    bert_uncased: await run(tk.Tokenizer.fromFile(path.join(bv, 'bert-base-uncased/tokenizer.json')), true),
    minilm: await run(tk.Tokenizer.fromFile(path.join(bv, 'all-MiniLM-L6-v2/tokenizer.json'))),
    bert_cased: await run(tk.Tokenizer.fromString(bertJSON(path.join(bv, 'bert-base-cased/vocab.txt'), false)), true),
    mbert_cased: await run(tk.Tokenizer.fromString(bertJSON(path.join(bv, 'bert-base-multilingual-cased/vocab.txt'), false)), true),
    bpe: await run(tk.Tokenizer.fromFile(path.join(dir, 'bpe_tokenizer.json'))),
    unigram: await run(tk.Tokenizer.fromFile(path.join(dir, 'unigram_tokenizer.json'))),
  };
  fs.writeFileSync(path.join(dir, 'hf_hard.json.gz'), zlib.gzipSync(JSON.stringify(golden), { level: 9 }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
