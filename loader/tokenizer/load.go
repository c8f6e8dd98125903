package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Load reads the tokenizer of a checkpoint directory. It uses, in order of
// preference, tokenizer.json; vocab.txt (a BERT WordPiece vocabulary, read as
// transformers' BertTokenizer does); or vocab.json with merges.txt (byte-level
// BPE). tokenizer_config.json, when present, supplies the options of the
// latter two and the names of special tokens.
func Load(dir string) (*Tokenizer, error) {
	cfg, err := readConfig(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	var t *Tokenizer
	switch {
	case exists("tokenizer.json"):
		t, err = readJSONFile(filepath.Join(dir, "tokenizer.json"))
	case exists("vocab.txt"):
		t, err = readVocabTxt(filepath.Join(dir, "vocab.txt"), cfg)
	case exists("vocab.json") && exists("merges.txt"):
		t, err = readVocabMerges(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"), cfg)
	default:
		return nil, fmt.Errorf("%s: no tokenizer: looked for tokenizer.json, vocab.txt, and vocab.json with merges.txt "+
			"(sentencepiece .model files are not read; convert them to tokenizer.json)", dir)
	}
	if err != nil {
		return nil, err
	}
	if cfg != nil {
		t.applyConfigNames(cfg)
	}
	return t, nil
}

// FromFile reads a tokenizer.json or, for any other content, a vocab.txt
// with BertTokenizer's defaults (see Load for tokenizer_config.json).
func FromFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] == '{' {
		return FromJSON(data, path)
	}
	return vocabTxt(data, path, nil)
}

func readJSONFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return FromJSON(data, path)
}

// tokenizerConfig is the part of transformers' tokenizer_config.json used here.
type tokenizerConfig struct {
	DoLowerCase          *bool                     `json:"do_lower_case"`
	StripAccents         *bool                     `json:"strip_accents"`
	TokenizeChineseChars *bool                     `json:"tokenize_chinese_chars"`
	DoBasicTokenize      *bool                     `json:"do_basic_tokenize"`
	DoSplitOnPunc        *bool                     `json:"do_split_on_punc"`
	NeverSplit           []string                  `json:"never_split"`
	AddPrefixSpace       *bool                     `json:"add_prefix_space"`
	TrimOffsets          *bool                     `json:"trim_offsets"`
	UnkToken             tokenName                 `json:"unk_token"`
	SepToken             tokenName                 `json:"sep_token"`
	PadToken             tokenName                 `json:"pad_token"`
	ClsToken             tokenName                 `json:"cls_token"`
	MaskToken            tokenName                 `json:"mask_token"`
	BosToken             tokenName                 `json:"bos_token"`
	EosToken             tokenName                 `json:"eos_token"`
	Additional           []tokenName               `json:"additional_special_tokens"`
	AddedTokensDecoder   map[string]jsonAddedToken `json:"added_tokens_decoder"`
}

// tokenName is a special token given as a string or as an AddedToken object
// ({"content": ..., "lstrip": ...}).
type tokenName struct {
	set bool
	tok jsonAddedToken
}

func (n *tokenName) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	n.set = true
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &n.tok.Content)
	}
	return json.Unmarshal(b, &n.tok)
}

func readConfig(path string) (*tokenizerConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var cfg tokenizerConfig
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &cfg, nil
}

// applyConfigNames lets tokenizer_config.json name the special tokens
// (for example a pad token that tokenizer.json has no padding section for).
func (t *Tokenizer) applyConfigNames(cfg *tokenizerConfig) {
	set := func(dst *int, names ...tokenName) {
		for _, n := range names {
			if id, ok := t.ids[n.tok.Content]; n.set && ok {
				*dst = id
				return
			}
		}
	}
	set(&t.specials.CLS, cfg.ClsToken, cfg.BosToken)
	set(&t.specials.SEP, cfg.SepToken, cfg.EosToken)
	set(&t.specials.PAD, cfg.PadToken)
	set(&t.specials.MASK, cfg.MaskToken)
	set(&t.specials.UNK, cfg.UnkToken)
}

// vocabulary is a token → id map with the checks every source shares.
type vocabulary map[string]int

// maxSparseIDs bounds how far ids may run past the number of entries, so
// that a corrupt file cannot make the id table huge.
const maxSparseIDs = 1 << 16

// table builds the id → token table of a vocabulary and added tokens.
func table(vocab vocabulary, added []addedToken, where string) ([]string, map[string]int, error) {
	ids := make(map[string]int, len(vocab)+len(added))
	size := 0
	check := func(tok string, id int) error {
		if id < 0 {
			return fmt.Errorf("%s: token %q has negative id %d", where, tok, id)
		}
		if id >= 2*(len(vocab)+len(added))+maxSparseIDs {
			return fmt.Errorf("%s: token %q has id %d, far beyond the %d entries", where, tok, id, len(vocab)+len(added))
		}
		size = max(size, id+1)
		return nil
	}
	for tok, id := range vocab {
		if err := check(tok, id); err != nil {
			return nil, nil, err
		}
		ids[tok] = id
	}
	for _, a := range added {
		if err := check(a.content, a.id); err != nil {
			return nil, nil, err
		}
		ids[a.content] = a.id
	}
	tokens := make([]string, size)
	for tok, id := range vocab {
		tokens[id] = tok
	}
	for _, a := range added {
		tokens[a.id] = a.content
	}
	return tokens, ids, nil
}

// finishSetup builds the added-token matchers and the special-token ids
// shared by all sources. Tokens of normalized added tokens are matched in
// their normalized form.
func (t *Tokenizer) finishSetup(added []addedToken, unk int) {
	var raw, norm []addedToken
	var rawPats, normPats [][]rune
	t.special = make(map[int]bool)
	for _, a := range added {
		if a.special {
			t.special[a.id] = true
		}
		if a.normalized {
			n := newNstr(a.content)
			if t.normalize != nil {
				n = t.normalize(n)
			}
			norm, normPats = append(norm, a), append(normPats, n.r)
		} else {
			raw, rawPats = append(raw, a), append(rawPats, []rune(a.content))
		}
	}
	t.raw = newAddedMatcher(raw, rawPats)
	t.norm = newAddedMatcher(norm, normPats)

	t.specials = Specials{CLS: -1, SEP: -1, PAD: -1, MASK: -1, UNK: unk}
	// CLS is the first special token before the sequence, SEP the first after.
	seen := false
	for _, it := range t.single {
		switch {
		case it.seq >= 0:
			seen = true
		case len(it.ids) == 0:
		case !seen && t.specials.CLS < 0:
			t.specials.CLS = it.ids[0]
		case seen && t.specials.SEP < 0:
			t.specials.SEP = it.ids[0]
		}
	}
	lookup := func(dst *int, names ...string) {
		for _, name := range names {
			if id, ok := t.ids[name]; ok && *dst < 0 {
				*dst = id
			}
		}
	}
	lookup(&t.specials.CLS, "[CLS]", "<s>")
	lookup(&t.specials.SEP, "[SEP]", "</s>")
	lookup(&t.specials.PAD, "[PAD]", "<pad>")
	lookup(&t.specials.MASK, "[MASK]", "<mask>")
	lookup(&t.specials.UNK, "[UNK]", "<unk>")
}

// bertTemplates are [CLS] A [SEP] and [CLS] A [SEP] B [SEP] with type ids
// 0 then 1.
func bertTemplates(cls, sep int) (single, pair []templateItem) {
	c, s := []int{cls}, []int{sep}
	single = []templateItem{{-1, c, 0}, {0, nil, 0}, {-1, s, 0}}
	pair = []templateItem{{-1, c, 0}, {0, nil, 0}, {-1, s, 0}, {1, nil, 1}, {-1, s, 1}}
	return single, pair
}

// robertaTemplates are <s> A </s> and <s> A </s></s> B </s>, all type 0.
func robertaTemplates(cls, sep int) (single, pair []templateItem) {
	c, s := []int{cls}, []int{sep}
	single = []templateItem{{-1, c, 0}, {0, nil, 0}, {-1, s, 0}}
	pair = []templateItem{{-1, c, 0}, {0, nil, 0}, {-1, s, 0}, {-1, s, 0}, {1, nil, 0}, {-1, s, 0}}
	return single, pair
}

// plainTemplates add no special tokens; a second sequence gets type 1.
func plainTemplates() (single, pair []templateItem) {
	return []templateItem{{0, nil, 0}}, []templateItem{{0, nil, 0}, {1, nil, 1}}
}
