package tokenizer

import (
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

func readVocabTxt(path string, cfg *tokenizerConfig) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return vocabTxt(data, path, cfg)
}

// vocabLines splits a vocab.txt as Python's text mode reads it: "\r\n",
// "\r" and "\n" end lines, and a final line end adds no empty token.
func vocabLines(data []byte, path string) ([]string, error) {
	s := strings.ReplaceAll(string(data), "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil, fmt.Errorf("%s: empty vocabulary", path)
	}
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if !utf8.ValidString(l) {
			return nil, fmt.Errorf("%s:%d: token is not valid UTF-8", path, i+1)
		}
	}
	return lines, nil
}

// vocabTxt builds a WordPiece tokenizer from a vocab.txt exactly as
// transformers' BertTokenizer (with its BasicTokenizer) would, including
// where it differs from HF tokenizers' BertNormalizer: unassigned code points
// count as control characters, NFC is applied after cleaning, and CJK
// Extension E starts at U+2B820.
//
// tokenizer_config.json (cfg, may be nil) supplies do_lower_case,
// strip_accents, tokenize_chinese_chars, do_split_on_punc, never_split and
// the special tokens. Without do_lower_case the vocabulary decides: it is
// taken as uncased unless lower-casing changes some entry other than a
// [BRACKETED] special token (the rule of the torch_multitask oracle);
// BertTokenizer itself defaults to lower-casing, which is wrong for cased
// checkpoints shipped without a config.
func vocabTxt(data []byte, path string, cfg *tokenizerConfig) (*Tokenizer, error) {
	lines, err := vocabLines(data, path)
	if err != nil {
		return nil, err
	}
	if cfg == nil {
		cfg = &tokenizerConfig{}
	}
	if cfg.DoBasicTokenize != nil && !*cfg.DoBasicTokenize {
		return nil, fmt.Errorf("%s: do_basic_tokenize=false is not supported", path)
	}
	vocab := make(vocabulary, len(lines))
	for i, l := range lines {
		vocab[l] = i // a repeated token maps to its last line, as in BertTokenizer
	}
	lower := !hasUpper(lines)
	if cfg.DoLowerCase != nil {
		lower = *cfg.DoLowerCase
	}
	name := func(n tokenName, def string) string {
		if n.set {
			return n.tok.Content
		}
		return def
	}
	unkTok := name(cfg.UnkToken, "[UNK]")
	unk, ok := vocab[unkTok]
	if !ok {
		return nil, fmt.Errorf("%s: unknown token %q is not in the vocabulary", path, unkTok)
	}

	// Special tokens are split off the raw text; one missing from the
	// vocabulary maps to the unknown id, as convert_tokens_to_ids does.
	var added []addedToken
	seen := map[string]bool{}
	addSpecial := func(a jsonAddedToken, id int) {
		if a.Content == "" || seen[a.Content] {
			return
		}
		seen[a.Content] = true
		added = append(added, addedToken{content: a.Content, id: id, special: a.Special,
			singleWord: a.SingleWord, lstrip: a.Lstrip, rstrip: a.Rstrip})
	}
	idOf := func(tok string) int {
		if id, ok := vocab[tok]; ok {
			return id
		}
		return unk
	}
	for key, a := range cfg.AddedTokensDecoder {
		var id int
		if _, err := fmt.Sscan(key, &id); err != nil {
			return nil, fmt.Errorf("%s: added_tokens_decoder key %q is not an id", path, key)
		}
		if id < 0 || id >= len(lines) {
			return nil, fmt.Errorf("%s: added token %q has id %d outside the %d-token vocabulary", path, a.Content, id, len(lines))
		}
		addSpecial(a, id)
	}
	for _, n := range []struct {
		name tokenName
		def  string
	}{{cfg.UnkToken, "[UNK]"}, {cfg.SepToken, "[SEP]"}, {cfg.PadToken, "[PAD]"}, {cfg.ClsToken, "[CLS]"}, {cfg.MaskToken, "[MASK]"}} {
		tok := n.name.tok
		tok.Content = name(n.name, n.def)
		tok.Special = true
		addSpecial(tok, idOf(tok.Content))
	}
	for _, n := range cfg.Additional {
		n.tok.Special = true
		addSpecial(n.tok, idOf(n.tok.Content))
	}

	t := &Tokenizer{tokens: lines, ids: vocab, decoder: wordPieceDecoder("##", true)}
	chinese := cfg.TokenizeChineseChars == nil || *cfg.TokenizeChineseChars
	t.normalize = func(n nstr) nstr {
		// PreTrainedTokenizer.tokenize lower-cases first; BasicTokenizer then
		// cleans, pads CJK characters and applies NFC.
		return nfcNorm(bertClean(n, true, chinese, lower, true))
	}
	strip := lower
	if cfg.StripAccents != nil {
		strip = *cfg.StripAccents
	}
	basic := basicPre{stripAccents: strip, splitPunct: cfg.DoSplitOnPunc == nil || *cfg.DoSplitOnPunc}
	wp := newWordPiece(vocab, "##", unk, 100)
	t.model = wp
	if len(cfg.NeverSplit) > 0 {
		basic.neverSplit = make(map[string]bool)
		for _, w := range cfg.NeverSplit {
			basic.neverSplit[w] = true
		}
		t.model = neverSplitModel{wp, basic.neverSplit, vocab, unk}
	}
	t.pre = basic.split
	cls, sep := idOf(name(cfg.ClsToken, "[CLS]")), idOf(name(cfg.SepToken, "[SEP]"))
	t.single, t.pair = bertTemplates(cls, sep)
	t.finishSetup(added, unk)
	return t, nil
}

// hasUpper reports whether lower-casing changes a vocabulary entry other
// than a [BRACKETED] special token.
func hasUpper(tokens []string) bool {
	for _, tok := range tokens {
		if strings.HasPrefix(tok, "[") && strings.HasSuffix(tok, "]") {
			continue
		}
		for _, r := range tok {
			if unicode.ToLower(r) != r {
				return true
			}
		}
	}
	return false
}

// neverSplitModel gives BertTokenizer's never_split words their own id (or
// the unknown id) instead of WordPiece pieces.
type neverSplitModel struct {
	model
	words map[string]bool
	vocab vocabulary
	unk   int
}

func (m neverSplitModel) tokenize(word string) []piece {
	if !m.words[word] {
		return m.model.tokenize(word)
	}
	id, ok := m.vocab[word]
	if !ok {
		id = m.unk
	}
	return []piece{{id, 0, len(word)}}
}

// readVocabMerges builds a byte-level BPE tokenizer from GPT-2/RoBERTa
// vocab.json and merges.txt files, like transformers' converters do. When
// the vocabulary has <s> and </s> it gets RoBERTa's post-processing and
// special tokens (<mask> strips the space before it); tokenizer_config.json
// may set add_prefix_space and trim_offsets.
func readVocabMerges(vocabPath, mergesPath string, cfg *tokenizerConfig) (*Tokenizer, error) {
	data, err := os.ReadFile(vocabPath)
	if err != nil {
		return nil, err
	}
	vocab, err := parseVocabMap(data, vocabPath)
	if err != nil {
		return nil, err
	}
	mdata, err := os.ReadFile(mergesPath)
	if err != nil {
		return nil, err
	}
	var merges [][2]string
	var lines []string
	if len(mdata) > 0 {
		lines = strings.Split(strings.TrimSuffix(string(mdata), "\n"), "\n")
	}
	for i, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if strings.HasPrefix(l, "#version") {
			continue
		}
		a, b, ok := splitMerge(l)
		if !ok {
			return nil, fmt.Errorf("%s:%d: %q is not two tokens separated by one space", mergesPath, i+1, l)
		}
		merges = append(merges, [2]string{a, b})
	}
	if cfg == nil {
		cfg = &tokenizerConfig{}
	}
	prefixSpace := cfg.AddPrefixSpace != nil && *cfg.AddPrefixSpace
	var added []addedToken
	for _, name := range []string{"<s>", "<pad>", "</s>", "<unk>", "<mask>", "<|endoftext|>"} {
		if id, ok := vocab[name]; ok {
			added = append(added, addedToken{content: name, id: id, special: true, lstrip: name == "<mask>"})
		}
	}
	t := &Tokenizer{decoder: byteLevelDecoder, pre: byteLevel{addPrefixSpace: prefixSpace, useRegex: true}.split}
	if t.tokens, t.ids, err = table(vocab, added, vocabPath); err != nil {
		return nil, err
	}
	b, err := newBPE(vocab, merges, jsonModel{}, mergesPath)
	if err != nil {
		return nil, err
	}
	t.model = b
	cls, okCls := vocab["<s>"]
	sep, okSep := vocab["</s>"]
	if okCls && okSep {
		t.single, t.pair = robertaTemplates(cls, sep)
		t.trimOffsets, t.trimPrefixSpace = cfg.TrimOffsets == nil || *cfg.TrimOffsets, prefixSpace
	} else {
		t.single, t.pair = plainTemplates()
	}
	t.finishSetup(added, -1)
	return t, nil
}
