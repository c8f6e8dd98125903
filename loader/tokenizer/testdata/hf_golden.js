// Writes hf_golden.json.gz: what HuggingFace tokenizers (the npm package
// "tokenizers", the Rust library's Node binding) gives for the texts of
// texts.json. Run through make_fixtures.sh:
//   NODE_PATH=SCRATCH/node_modules node hf_golden.js TESTDATA_DIR SHARED_DATA_DIR
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');
const tk = require('tokenizers');

const [dir, data] = process.argv.slice(2);
const texts = JSON.parse(fs.readFileSync(path.join(dir, 'texts.json'), 'utf8'));

// The binding reports offsets in characters (code points); convert them to
// UTF-8 byte offsets.
function byteOffsets(text, offsets) {
  const pos = [0];
  for (const ch of text) pos.push(pos[pos.length - 1] + Buffer.byteLength(ch, 'utf8'));
  return offsets.map(([a, b]) => [pos[a], pos[b]]);
}

function enc(e, text) {
  const r = { ids: e.getIds(), words: e.getWordIds().map((w) => (w === null || w === undefined ? -1 : w)) };
  if (text !== null) r.offsets = byteOffsets(text, e.getOffsets());
  return r;
}

async function run(name, file, sets, withWords) {
  const t = tk.Tokenizer.fromFile(file);
  t.disableTruncation();
  t.disablePadding();
  // encode[set][i] is the encoding of texts[set][i], without special tokens.
  const out = { encode: {}, special: [], pairs: [], words: [] };
  for (const s of sets) {
    out.encode[s] = [];
    for (const text of texts[s].slice(0, 100)) {
      const e = await t.encode(text, null, { addSpecialTokens: false });
      const r = enc(e, text);
      r.decoded = await t.decode(e.getIds(), true);
      out.encode[s].push(r);
    }
  }
  for (const text of texts.tricky.slice(0, 8)) {
    const e = await t.encode(text);
    out.special.push({ text, ids: e.getIds(), types: e.getTypeIds() });
  }
  for (const [a, b] of texts.pairs) {
    const e = await t.encode(a, b);
    out.pairs.push({ a, b, ids: e.getIds(), types: e.getTypeIds() });
  }
  if (withWords) {
    // The binding takes no pre-tokenized input, so do what the Rust library
    // does with it: encode each word on its own, its pieces taking the word's
    // index and offsets within the word.
    withWords(t);
    for (const ws of texts.words) {
      const r = { ids: [], words: [], offsets: [] };
      for (let i = 0; i < ws.length; i++) {
        const w = enc(await t.encode(ws[i], null, { addSpecialTokens: false }), ws[i]);
        r.ids.push(...w.ids);
        r.offsets.push(...w.offsets);
        r.words.push(...w.ids.map(() => i));
      }
      out.words.push(r);
    }
  }
  return [name, out];
}

(async () => {
  const golden = {};
  const bv = path.join(data, 'bert_vocab');
  const keep = () => {};
  for (const [name, out] of [
    await run('bert_uncased', path.join(bv, 'bert-base-uncased/tokenizer.json'), ['ewt', 'tricky'], keep),
    await run('minilm', path.join(bv, 'all-MiniLM-L6-v2/tokenizer.json'), ['tricky'], null),
    // RobertaTokenizerFast(add_prefix_space=True) is what takes pre-tokenized words.
    await run('bpe', path.join(dir, 'bpe_tokenizer.json'), ['ewt', 'taiga', 'tricky'], (t) => {
      t.setPreTokenizer(tk.byteLevelPreTokenizer(true, true));
      t.setPostProcessor(tk.robertaProcessing(['</s>', 2], ['<s>', 0], true, true));
    }),
    await run('unigram', path.join(dir, 'unigram_tokenizer.json'), ['ewt', 'taiga', 'tricky'], keep),
  ]) {
    golden[name] = out;
  }
  // GPT-2 pre-tokenizer splits and the Precompiled normalizer on their own.
  const gpt2 = tk.byteLevelPreTokenizer(false, true);
  golden.gpt2_splits = texts.tricky.concat(texts.ewt.slice(0, 30)).map((text) => gpt2.preTokenizeString(text).map(([s]) => s));
  const uni = tk.Tokenizer.fromFile(path.join(dir, 'unigram_tokenizer.json'));
  golden.precompiled = texts.tricky.map((text) => uni.getNormalizer().normalizeString(text));
  fs.writeFileSync(path.join(dir, 'hf_golden.json.gz'), zlib.gzipSync(JSON.stringify(golden), { level: 9 }));
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
