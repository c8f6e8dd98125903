// Trains HF tokenizers' WordPieceTrainer on train_corpus.txt and writes its
// vocabulary, one token a line in id order, to train_hf_vocab.txt. Run by
// train_hf.sh. The Node binding only offers the model's default trainer:
// vocab_size 30000, min_frequency 0, no special tokens, no alphabet limit.
const tk = require('tokenizers');
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const t = new tk.Tokenizer(tk.WordPiece.empty());
t.setNormalizer(tk.bertNormalizer({ lowercase: true }));
t.setPreTokenizer(tk.bertPreTokenizer());
t.train([path.join(dir, 'train_corpus.txt')]);
const vocab = Object.entries(t.getVocab(true)).sort((a, b) => a[1] - b[1]).map((e) => e[0]);
fs.writeFileSync(path.join(dir, 'train_hf_vocab.txt'), vocab.join('\n') + '\n');
