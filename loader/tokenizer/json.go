package tokenizer

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// jsonTokenizer is the part of an HF tokenizer.json used here. Truncation
// and padding are the caller's business (see Windows, Single and Pair).
type jsonTokenizer struct {
	AddedTokens   []jsonAddedToken `json:"added_tokens"`
	Normalizer    json.RawMessage  `json:"normalizer"`
	PreTokenizer  json.RawMessage  `json:"pre_tokenizer"`
	PostProcessor json.RawMessage  `json:"post_processor"`
	Decoder       json.RawMessage  `json:"decoder"`
	Model         json.RawMessage  `json:"model"`
	Padding       *struct {
		PadID *int `json:"pad_id"`
	} `json:"padding"`
}

type jsonAddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	Lstrip     bool   `json:"lstrip"`
	Rstrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"` // HF's default: true
	Special    bool   `json:"special"`
}

func (a jsonAddedToken) added(id int) addedToken {
	return addedToken{content: a.Content, id: id, special: a.Special, singleWord: a.SingleWord,
		lstrip: a.Lstrip, rstrip: a.Rstrip, normalized: a.Normalized == nil || *a.Normalized}
}

// jsonModel holds the fields of the WordPiece, BPE and Unigram models.
type jsonModel struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	UnkID                   *int            `json:"unk_id"`
}

// component is any typed object of tokenizer.json (normalizer,
// pre-tokenizer, post-processor, decoder) with all the fields used here.
type component struct {
	Type string `json:"type"`
	// Sequences.
	Normalizers   []json.RawMessage `json:"normalizers"`
	PreTokenizers []json.RawMessage `json:"pretokenizers"`
	Processors    []json.RawMessage `json:"processors"`
	Decoders      []json.RawMessage `json:"decoders"`
	// BertNormalizer.
	CleanText          *bool `json:"clean_text"`
	HandleChineseChars *bool `json:"handle_chinese_chars"`
	StripAccents       *bool `json:"strip_accents"`
	Lowercase          *bool `json:"lowercase"`
	// Strip, Prepend, Replace, Precompiled.
	StripLeft  *bool   `json:"strip_left"`
	StripRight *bool   `json:"strip_right"`
	Prepend    *string `json:"prepend"`
	Pattern    *struct {
		String *string `json:"String"`
		Regex  *string `json:"Regex"`
	} `json:"pattern"`
	Content             *string `json:"content"`
	PrecompiledCharsmap *string `json:"precompiled_charsmap"`
	// ByteLevel, Metaspace, RobertaProcessing.
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	TrimOffsets    *bool   `json:"trim_offsets"`
	UseRegex       *bool   `json:"use_regex"`
	Replacement    *string `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	Split          *bool   `json:"split"`
	// TemplateProcessing, BertProcessing, RobertaProcessing.
	Single        []map[string]templateRef `json:"single"`
	Pair          []map[string]templateRef `json:"pair"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
	// Decoders.
	Prefix  *string `json:"prefix"`
	Cleanup *bool   `json:"cleanup"`
	Start   int     `json:"start"`
	Stop    int     `json:"stop"`
}

type templateRef struct {
	ID     string `json:"id"`
	TypeID int    `json:"type_id"`
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}

func orTrue(b *bool) bool { return b == nil || *b }

// FromJSON reads a tokenizer.json document; name labels errors.
func FromJSON(data []byte, name string) (*Tokenizer, error) {
	var doc jsonTokenizer
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if isNull(doc.Model) {
		return nil, fmt.Errorf("%s: no model", name)
	}
	var m jsonModel
	if err := json.Unmarshal(doc.Model, &m); err != nil {
		return nil, fmt.Errorf("%s: model: %w", name, err)
	}
	t := &Tokenizer{}
	var err error
	if t.normalize, err = parseNormalizer(doc.Normalizer); err != nil {
		return nil, fmt.Errorf("%s: normalizer: %w", name, err)
	}
	if t.pre, err = parsePreTokenizer(doc.PreTokenizer); err != nil {
		return nil, fmt.Errorf("%s: pre_tokenizer: %w", name, err)
	}
	if t.decoder, err = parseDecoder(doc.Decoder); err != nil {
		return nil, fmt.Errorf("%s: decoder: %w", name, err)
	}
	added := make([]addedToken, len(doc.AddedTokens))
	for i, a := range doc.AddedTokens {
		added[i] = a.added(a.ID)
	}
	unk, err := t.setModel(m, added, name)
	if err != nil {
		return nil, err
	}
	t.single, t.pair = plainTemplates()
	if err := t.parsePostProcessor(doc.PostProcessor); err != nil {
		return nil, fmt.Errorf("%s: post_processor: %w", name, err)
	}
	t.finishSetup(added, unk)
	if doc.Padding != nil && doc.Padding.PadID != nil {
		if _, ok := t.IDToToken(*doc.Padding.PadID); ok {
			t.specials.PAD = *doc.Padding.PadID
		}
	}
	return t, nil
}

// setModel builds the model and the token tables; it returns the model's
// unknown-token id (-1 if none).
func (t *Tokenizer) setModel(m jsonModel, added []addedToken, name string) (int, error) {
	typ := m.Type
	if typ == "" { // old files leave the type out
		switch {
		case !isNull(m.Merges):
			typ = "BPE"
		case strings.HasPrefix(strings.TrimSpace(string(m.Vocab)), "["):
			typ = "Unigram"
		case m.MaxInputCharsPerWord != nil || m.ContinuingSubwordPrefix != nil:
			typ = "WordPiece"
		}
	}
	where := name + ": model"
	switch typ {
	case "WordPiece":
		vocab, err := parseVocabMap(m.Vocab, where)
		if err != nil {
			return -1, err
		}
		if t.tokens, t.ids, err = table(vocab, added, where); err != nil {
			return -1, err
		}
		unkTok, prefix, maxChars := "[UNK]", "##", 100
		if m.UnkToken != nil {
			unkTok = *m.UnkToken
		}
		if m.ContinuingSubwordPrefix != nil {
			prefix = *m.ContinuingSubwordPrefix
		}
		if m.MaxInputCharsPerWord != nil {
			maxChars = *m.MaxInputCharsPerWord
		}
		unk, ok := vocab[unkTok]
		if !ok {
			return -1, fmt.Errorf("%s: unk_token %q is not in the vocabulary", where, unkTok)
		}
		t.model = newWordPiece(vocab, prefix, unk, maxChars)
		return unk, nil
	case "BPE":
		vocab, err := parseVocabMap(m.Vocab, where)
		if err != nil {
			return -1, err
		}
		if t.tokens, t.ids, err = table(vocab, added, where); err != nil {
			return -1, err
		}
		merges, err := parseJSONMerges(m.Merges, where)
		if err != nil {
			return -1, err
		}
		b, err := newBPE(vocab, merges, m, where)
		if err != nil {
			return -1, err
		}
		t.model = b
		return b.unk, nil
	case "Unigram":
		pieces, scores, err := parseUnigramVocab(m.Vocab, where)
		if err != nil {
			return -1, err
		}
		if m.UnkID == nil || *m.UnkID < 0 || *m.UnkID >= len(pieces) {
			return -1, fmt.Errorf("%s: a Unigram model needs an unk_id within its %d pieces", where, len(pieces))
		}
		vocab := make(vocabulary, len(pieces))
		for i, p := range pieces {
			vocab[p] = i
		}
		if t.tokens, t.ids, err = table(vocab, added, where); err != nil {
			return -1, err
		}
		for i, p := range pieces { // duplicate pieces keep their own rows
			t.tokens[i] = p
		}
		t.model = newUnigram(pieces, scores, *m.UnkID, m.ByteFallback)
		return *m.UnkID, nil
	}
	return -1, fmt.Errorf("%s: unsupported model type %q (supported: WordPiece, BPE, Unigram)", where, m.Type)
}

func parseVocabMap(raw json.RawMessage, where string) (vocabulary, error) {
	var v vocabulary
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: vocab: %w", where, err)
	}
	if len(v) == 0 {
		return nil, fmt.Errorf("%s: empty vocab", where)
	}
	return v, nil
}

// parseJSONMerges accepts both forms of merges: "a b" strings and [a, b]
// pairs.
func parseJSONMerges(raw json.RawMessage, where string) ([][2]string, error) {
	var items []json.RawMessage
	if !isNull(raw) {
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, fmt.Errorf("%s: merges: %w", where, err)
		}
	}
	merges := make([][2]string, len(items))
	for i, it := range items {
		var s string
		if err := json.Unmarshal(it, &s); err == nil {
			a, b, ok := splitMerge(s)
			if !ok {
				return nil, fmt.Errorf("%s: merge %d %q is not two tokens separated by one space", where, i+1, s)
			}
			merges[i] = [2]string{a, b}
			continue
		}
		var pair []string
		if err := json.Unmarshal(it, &pair); err != nil || len(pair) != 2 {
			return nil, fmt.Errorf("%s: merge %d is neither \"a b\" nor [a, b]", where, i+1)
		}
		merges[i] = [2]string{pair[0], pair[1]}
	}
	return merges, nil
}

// splitMerge splits "a b" as HF does: exactly one space.
func splitMerge(s string) (a, b string, ok bool) {
	a, b, ok = strings.Cut(s, " ")
	return a, b, ok && !strings.Contains(b, " ")
}

// newBPE builds the merge table: the pair's ids map to their rank and to the
// id of their concatenation (without the second part's continuation
// prefix). A later duplicate merge overrides an earlier one, as in HF.
func newBPE(vocab vocabulary, merges [][2]string, m jsonModel, where string) (*bpe, error) {
	b := &bpe{vocab: vocab, merges: make(map[[2]int]merge, len(merges)), unk: -1,
		fuseUnk: m.FuseUnk, byteFallback: m.ByteFallback, ignoreMerges: m.IgnoreMerges,
		cache: make(map[string][]symbol)}
	if m.ContinuingSubwordPrefix != nil {
		b.prefix = *m.ContinuingSubwordPrefix
	}
	if m.EndOfWordSuffix != nil {
		b.suffix = *m.EndOfWordSuffix
	}
	if m.UnkToken != nil {
		id, ok := vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("%s: unk_token %q is not in the vocabulary", where, *m.UnkToken)
		}
		b.unk = id
	}
	for rank, mg := range merges {
		a, ok1 := vocab[mg[0]]
		c, ok2 := vocab[mg[1]]
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("%s: merge %d %q %q uses a token missing from the vocabulary", where, rank+1, mg[0], mg[1])
		}
		second, ok := strings.CutPrefix(mg[1], b.prefix)
		if !ok {
			return nil, fmt.Errorf("%s: merge %d: %q lacks the continuing prefix %q", where, rank+1, mg[1], b.prefix)
		}
		id, ok := vocab[mg[0]+second]
		if !ok {
			return nil, fmt.Errorf("%s: merge %d: %q is not in the vocabulary", where, rank+1, mg[0]+second)
		}
		b.merges[[2]int{a, c}] = merge{rank: rank, id: id}
	}
	return b, nil
}

func parseUnigramVocab(raw json.RawMessage, where string) ([]string, []float64, error) {
	var items [][]json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, nil, fmt.Errorf("%s: vocab: %w", where, err)
	}
	if len(items) == 0 {
		return nil, nil, fmt.Errorf("%s: empty vocab", where)
	}
	pieces := make([]string, len(items))
	scores := make([]float64, len(items))
	for i, it := range items {
		if len(it) != 2 || json.Unmarshal(it[0], &pieces[i]) != nil || json.Unmarshal(it[1], &scores[i]) != nil {
			return nil, nil, fmt.Errorf("%s: vocab entry %d is not [piece, score]", where, i)
		}
	}
	return pieces, scores, nil
}

func parseComponent(raw json.RawMessage) (component, error) {
	var c component
	err := json.Unmarshal(raw, &c)
	return c, err
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "BertNormalizer":
		lower := orTrue(c.Lowercase)
		strip := lower // strip_accents null follows lowercase
		if c.StripAccents != nil {
			strip = *c.StripAccents
		}
		return bertNormalizer{cleanText: orTrue(c.CleanText), chineseChars: orTrue(c.HandleChineseChars),
			stripAccents: strip, lowercase: lower}.normalize, nil
	case "Lowercase":
		return lowercaseNorm, nil
	case "NFC":
		return nfcNorm, nil
	case "NFD":
		return nfdNorm, nil
	case "NFKC":
		return nfkcNorm, nil
	case "NFKD":
		return nfkdNorm, nil
	case "StripAccents":
		return stripMarks, nil
	case "Strip":
		return stripNorm(orTrue(c.StripLeft), orTrue(c.StripRight)), nil
	case "Prepend":
		if c.Prepend == nil {
			return nil, errors.New("Prepend without prepend")
		}
		return prependNorm(*c.Prepend), nil
	case "Replace":
		literal, re, err := parsePattern(c)
		if err != nil {
			return nil, err
		}
		return replaceNorm(literal, re, *c.Content), nil
	case "Precompiled":
		if c.PrecompiledCharsmap == nil || *c.PrecompiledCharsmap == "" {
			return func(n nstr) nstr { return n }, nil // no charsmap: identity
		}
		b, err := base64.StdEncoding.DecodeString(*c.PrecompiledCharsmap)
		if err != nil {
			return nil, fmt.Errorf("precompiled_charsmap: %w", err)
		}
		p, err := parsePrecompiled(b)
		if err != nil {
			return nil, err
		}
		return p.normalize, nil
	case "Sequence":
		ns := make([]normalizer, 0, len(c.Normalizers))
		for i, r := range c.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, fmt.Errorf("normalizers[%d]: %w", i, err)
			}
			if n != nil {
				ns = append(ns, n)
			}
		}
		return sequence(ns), nil
	}
	return nil, fmt.Errorf("unsupported type %q (supported: BertNormalizer, Lowercase, NFC, NFD, NFKC, NFKD, "+
		"StripAccents, Strip, Prepend, Replace, Precompiled, Sequence)", c.Type)
}

// parsePattern reads the {"String": ...} or {"Regex": ...} pattern of a
// Replace, with its content. Regexes use Go's syntax, which agrees with
// Oniguruma's for the patterns found in practice (" {2,}" and the like).
func parsePattern(c component) (string, *regexp.Regexp, error) {
	if c.Pattern == nil || c.Content == nil {
		return "", nil, errors.New("Replace needs a pattern and a content")
	}
	switch {
	case c.Pattern.String != nil:
		return *c.Pattern.String, nil, nil
	case c.Pattern.Regex != nil:
		re, err := regexp.Compile(*c.Pattern.Regex)
		if err != nil {
			return "", nil, fmt.Errorf("Replace regex %q: %w", *c.Pattern.Regex, err)
		}
		return "", re, nil
	}
	return "", nil, errors.New("Replace pattern is neither String nor Regex")
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "BertPreTokenizer":
		return bertPre, nil
	case "Whitespace":
		return whitespacePre, nil
	case "WhitespaceSplit":
		return whitespaceSplitPre, nil
	case "ByteLevel":
		return byteLevel{addPrefixSpace: orTrue(c.AddPrefixSpace), useRegex: orTrue(c.UseRegex)}.split, nil
	case "Metaspace":
		m, err := parseMetaspace(c)
		if err != nil {
			return nil, err
		}
		return m.pre, nil
	case "Sequence":
		ps := make([]preTokenizer, 0, len(c.PreTokenizers))
		for i, r := range c.PreTokenizers {
			p, err := parsePreTokenizer(r)
			if err != nil {
				return nil, fmt.Errorf("pretokenizers[%d]: %w", i, err)
			}
			if p != nil {
				ps = append(ps, p)
			}
		}
		return preSequence(ps), nil
	}
	return nil, fmt.Errorf("unsupported type %q (supported: BertPreTokenizer, Whitespace, WhitespaceSplit, "+
		"ByteLevel, Metaspace, Sequence)", c.Type)
}

// parseMetaspace reads both the current form (prepend_scheme, split) and the
// legacy one (add_prefix_space).
func parseMetaspace(c component) (metaspace, error) {
	m := metaspace{replacement: '▁', prepend: prependAlways, split: orTrue(c.Split)}
	if c.Replacement != nil {
		r, n := utf8.DecodeRuneInString(*c.Replacement)
		if n == 0 || n != len(*c.Replacement) {
			return m, fmt.Errorf("Metaspace replacement %q is not one character", *c.Replacement)
		}
		m.replacement = r
	}
	switch {
	case c.PrependScheme != nil:
		switch *c.PrependScheme {
		case prependAlways, prependFirst, prependNever:
			m.prepend = *c.PrependScheme
		default:
			return m, fmt.Errorf("Metaspace prepend_scheme %q is not always, first or never", *c.PrependScheme)
		}
	case c.AddPrefixSpace != nil && !*c.AddPrefixSpace:
		m.prepend = prependNever
	}
	return m, nil
}

// parsePostProcessor sets the templates and offset trimming.
func (t *Tokenizer) parsePostProcessor(raw json.RawMessage) error {
	if isNull(raw) {
		return nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return err
	}
	switch c.Type {
	case "TemplateProcessing":
		if t.single, err = t.parseTemplate(c.Single, c, 1); err != nil {
			return fmt.Errorf("single: %w", err)
		}
		if len(c.Pair) == 0 { // no pair template: the second sequence follows, type 1
			t.pair = append(append([]templateItem{}, t.single...), templateItem{1, nil, 1})
			return nil
		}
		if t.pair, err = t.parseTemplate(c.Pair, c, 2); err != nil {
			return fmt.Errorf("pair: %w", err)
		}
		return nil
	case "BertProcessing", "RobertaProcessing":
		cls, err := t.processorToken(c.Cls, "cls")
		if err != nil {
			return err
		}
		sep, err := t.processorToken(c.Sep, "sep")
		if err != nil {
			return err
		}
		if c.Type == "BertProcessing" {
			t.single, t.pair = bertTemplates(cls, sep)
			return nil
		}
		t.single, t.pair = robertaTemplates(cls, sep)
		t.trimOffsets, t.trimPrefixSpace = orTrue(c.TrimOffsets), orTrue(c.AddPrefixSpace)
		return nil
	case "ByteLevel":
		t.trimOffsets, t.trimPrefixSpace = orTrue(c.TrimOffsets), orTrue(c.AddPrefixSpace)
		return nil
	case "Sequence":
		for i, r := range c.Processors {
			if err := t.parsePostProcessor(r); err != nil {
				return fmt.Errorf("processors[%d]: %w", i, err)
			}
		}
		return nil
	}
	return fmt.Errorf("unsupported type %q (supported: TemplateProcessing, BertProcessing, RobertaProcessing, "+
		"ByteLevel, Sequence)", c.Type)
}

// processorToken reads a [token, id] pair of Bert/RobertaProcessing.
func (t *Tokenizer) processorToken(pair []json.RawMessage, field string) (int, error) {
	var tok string
	var id int
	if len(pair) != 2 || json.Unmarshal(pair[0], &tok) != nil || json.Unmarshal(pair[1], &id) != nil {
		return 0, fmt.Errorf("%s is not [token, id]", field)
	}
	if _, ok := t.IDToToken(id); !ok {
		return 0, fmt.Errorf("%s id %d is not in the vocabulary", field, id)
	}
	return id, nil
}

// parseTemplate reads a TemplateProcessing template, which must hold each
// of its nseq sequences ($A, and $B for pairs) exactly once.
func (t *Tokenizer) parseTemplate(items []map[string]templateRef, c component, nseq int) ([]templateItem, error) {
	var out []templateItem
	seen := make([]bool, nseq)
	for i, it := range items {
		if len(it) != 1 {
			return nil, fmt.Errorf("item %d is not one of SpecialToken or Sequence", i)
		}
		if ref, ok := it["Sequence"]; ok {
			seq := map[string]int{"A": 0, "B": 1}[ref.ID]
			if ref.ID != "A" && ref.ID != "B" || seq >= nseq || seen[seq] {
				return nil, fmt.Errorf("item %d: unexpected sequence %q", i, ref.ID)
			}
			seen[seq] = true
			out = append(out, templateItem{seq, nil, ref.TypeID})
			continue
		}
		ref, ok := it["SpecialToken"]
		if !ok {
			return nil, fmt.Errorf("item %d is not one of SpecialToken or Sequence", i)
		}
		sp, ok := c.SpecialTokens[ref.ID]
		if !ok {
			return nil, fmt.Errorf("item %d: special token %q is not in special_tokens", i, ref.ID)
		}
		for _, id := range sp.IDs {
			if _, ok := t.IDToToken(id); !ok {
				return nil, fmt.Errorf("item %d: special token %q has id %d outside the vocabulary", i, ref.ID, id)
			}
		}
		out = append(out, templateItem{-1, sp.IDs, ref.TypeID})
	}
	for k, ok := range seen {
		if !ok {
			return nil, fmt.Errorf("sequence %c is missing", 'A'+k)
		}
	}
	return out, nil
}

func parseDecoder(raw json.RawMessage) (decoder, error) {
	if isNull(raw) {
		return nil, nil
	}
	c, err := parseComponent(raw)
	if err != nil {
		return nil, err
	}
	switch c.Type {
	case "WordPiece":
		prefix := "##"
		if c.Prefix != nil {
			prefix = *c.Prefix
		}
		return wordPieceDecoder(prefix, orTrue(c.Cleanup)), nil
	case "ByteLevel":
		return byteLevelDecoder, nil
	case "Metaspace":
		m, err := parseMetaspace(c)
		if err != nil {
			return nil, err
		}
		return metaspaceDecoder(m.replacement, m.prepend), nil
	case "Replace":
		literal, re, err := parsePattern(c)
		if err != nil {
			return nil, err
		}
		if re != nil {
			return nil, errors.New("Replace decoder with a regex is not supported")
		}
		return replaceDecoder(literal, *c.Content), nil
	case "Fuse":
		return fuseDecoder, nil
	case "Strip":
		if c.Content == nil {
			return nil, errors.New("Strip decoder without content")
		}
		return stripDecoder(*c.Content, c.Start, c.Stop), nil
	case "ByteFallback":
		return byteFallbackDecoder, nil
	case "Sequence":
		ds := make([]decoder, 0, len(c.Decoders))
		for i, r := range c.Decoders {
			d, err := parseDecoder(r)
			if err != nil {
				return nil, fmt.Errorf("decoders[%d]: %w", i, err)
			}
			if d != nil {
				ds = append(ds, d)
			}
		}
		return decoderSequence(ds), nil
	}
	return nil, fmt.Errorf("unsupported type %q (supported: WordPiece, ByteLevel, Metaspace, Replace, Fuse, "+
		"Strip, ByteFallback, Sequence)", c.Type)
}
