package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// WriteVocabTxt writes a vocab.txt: one token a line, the line number being
// the id.
func WriteVocabTxt(w io.Writer, vocab []string) error {
	bw := bufio.NewWriter(w)
	for id, tok := range vocab {
		if strings.ContainsAny(tok, "\r\n") || !utf8.ValidString(tok) {
			return fmt.Errorf("tokenizer: vocab.txt cannot hold token %d %q", id, tok)
		}
		bw.WriteString(tok)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// BertOptions describe a BERT WordPiece tokenizer for NewBert and WriteJSON.
type BertOptions struct {
	// Lowercase makes an uncased tokenizer: text is lower-cased and
	// accents are stripped. Text cleaning and CJK splitting are always on.
	Lowercase bool
}

// The special tokens of a BERT vocabulary; [UNK], [CLS] and [SEP] are
// required.
var bertSpecials = []string{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}

// NewBert builds the tokenizer of a BERT WordPiece vocabulary (for example
// one just trained); it is the tokenizer WriteJSON saves.
func NewBert(vocab []string, opt BertOptions) (*Tokenizer, error) {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, vocab, opt); err != nil {
		return nil, err
	}
	return FromJSON(buf.Bytes(), "NewBert")
}

// WriteJSON writes an HF tokenizer.json for a BERT WordPiece vocabulary, laid
// out like bert-base-uncased's: BertNormalizer, BertPreTokenizer, the
// [CLS] A [SEP] / [CLS] A [SEP] B [SEP] template, the WordPiece decoder, and
// [PAD], [UNK], [CLS], [SEP], [MASK] (those present) as special added tokens.
func WriteJSON(w io.Writer, vocab []string, opt BertOptions) error {
	ids := make(map[string]int, len(vocab))
	for id, tok := range vocab {
		if _, dup := ids[tok]; dup {
			return fmt.Errorf("tokenizer: token %q appears twice in the vocabulary", tok)
		}
		ids[tok] = id
	}
	for _, name := range []string{"[UNK]", "[CLS]", "[SEP]"} {
		if _, ok := ids[name]; !ok {
			return fmt.Errorf("tokenizer: a BERT vocabulary needs %s", name)
		}
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var addedTokens []added
	for _, name := range bertSpecials {
		if id, ok := ids[name]; ok {
			addedTokens = append(addedTokens, added{ID: id, Content: name, Special: true})
		}
	}
	type ref map[string]any
	special := func(name string, typ int) ref { return ref{"SpecialToken": ref{"id": name, "type_id": typ}} }
	seq := func(name string, typ int) ref { return ref{"Sequence": ref{"id": name, "type_id": typ}} }
	doc := struct {
		Version       string  `json:"version"`
		Truncation    any     `json:"truncation"`
		Padding       any     `json:"padding"`
		AddedTokens   []added `json:"added_tokens"`
		Normalizer    ref     `json:"normalizer"`
		PreTokenizer  ref     `json:"pre_tokenizer"`
		PostProcessor ref     `json:"post_processor"`
		Decoder       ref     `json:"decoder"`
		Model         ref     `json:"model"`
	}{
		Version:     "1.0",
		AddedTokens: addedTokens,
		Normalizer: ref{"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
			"strip_accents": nil, "lowercase": opt.Lowercase},
		PreTokenizer: ref{"type": "BertPreTokenizer"},
		PostProcessor: ref{
			"type":   "TemplateProcessing",
			"single": []ref{special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)},
			"pair":   []ref{special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)},
			"special_tokens": ref{
				"[CLS]": ref{"id": "[CLS]", "ids": []int{ids["[CLS]"]}, "tokens": []string{"[CLS]"}},
				"[SEP]": ref{"id": "[SEP]", "ids": []int{ids["[SEP]"]}, "tokens": []string{"[SEP]"}},
			},
		},
		Decoder: ref{"type": "WordPiece", "prefix": "##", "cleanup": true},
		Model: ref{"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
			"max_input_chars_per_word": 100, "vocab": orderedVocab(vocab)},
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// orderedVocab marshals as a token → id object in id order.
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		key, err := json.Marshal(tok)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "%s:%d", key, id)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
