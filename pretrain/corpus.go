package pretrain

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/data/text"
	"github.com/hiertune/hiertune/internal/atomicfile"
	"github.com/hiertune/hiertune/loader/tokenizer"
)

// A piece is stored in 32 bits: the token id in the low 24, and two flags.
const (
	idMask        = 1<<24 - 1
	startsWord    = 1 << 30 // the first piece of a word
	startsLine    = 1 << 31 // the first piece of a line (a sentence)
	maxVocabulary = idMask + 1
)

// heldOut decides whether a line belongs to the held-out split: by a hash
// of its text, so the split does not depend on where the line is.
func heldOut(line string, share float64) bool {
	h := fnv.New64a()
	h.Write([]byte("hiertune-heldout\x00"))
	h.Write([]byte(line))
	return float64(h.Sum64()%1_000_000) < share*1_000_000
}

// Manifest describes a tokenized corpus in a run directory, so that a
// resumed run can tell whether it is still valid.
type Manifest struct {
	Files     []FileInfo     `json:"files"`
	Vocab     string         `json:"vocab_sha256"`
	MaxPieces int            `json:"max_pieces"`
	Heldout   float64        `json:"heldout"`
	Pack      bool           `json:"pack"`
	Splits    map[string]int `json:"sequences"`
	Tokens    map[string]int `json:"tokens"`
	Lines     map[string]int `json:"lines"`
	// LongLines counts lines longer than a sequence, which were split.
	LongLines int `json:"long_lines"`
}

// FileInfo identifies an input file.
type FileInfo struct {
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime_unix_ns"`
}

// sameInput reports whether m was made from the same inputs and settings.
func (m *Manifest) sameInput(o *Manifest) bool {
	return slices.Equal(m.Files, o.Files) && m.Vocab == o.Vocab && m.MaxPieces == o.MaxPieces &&
		m.Heldout == o.Heldout && m.Pack == o.Pack
}

// vocabHash identifies a tokenizer by its vocabulary.
func vocabHash(tok *tokenizer.Tokenizer) string {
	h := sha256.New()
	for id := 0; id < tok.VocabSize(); id++ {
		t, _ := tok.IDToToken(id)
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// packer groups the pieces of consecutive lines into sequences of at most
// max pieces and writes them to an ids file and an offsets list.
type packer struct {
	max    int
	pack   bool
	w      *bufio.Writer
	cur    []uint32
	offset int64
	index  []int64
	tokens int
	buf    [4]byte
}

func (p *packer) flush() error {
	if len(p.cur) == 0 {
		return nil
	}
	for _, v := range p.cur {
		binary.LittleEndian.PutUint32(p.buf[:], v)
		if _, err := p.w.Write(p.buf[:]); err != nil {
			return err
		}
	}
	p.offset += int64(len(p.cur))
	p.index = append(p.index, p.offset)
	p.tokens += len(p.cur)
	p.cur = p.cur[:0]
	return nil
}

// add appends a line's pieces; it reports whether the line had to be split
// because it is longer than a sequence.
func (p *packer) add(pieces []uint32) (split bool, err error) {
	if len(p.cur)+len(pieces) > p.max || !p.pack {
		if err := p.flush(); err != nil {
			return false, err
		}
	}
	for len(pieces) > p.max {
		// Cut at the last word start that fits, or mid-word for a word
		// longer than a whole sequence.
		cut := p.max
		for i := p.max; i > 0; i-- {
			if pieces[i]&startsWord != 0 {
				cut = i
				break
			}
		}
		p.cur = append(p.cur, pieces[:cut]...)
		if err := p.flush(); err != nil {
			return true, err
		}
		pieces = pieces[cut:]
		split = true
	}
	p.cur = append(p.cur, pieces...)
	if !p.pack {
		return split, p.flush()
	}
	return split, nil
}

// Tokenize reads the corpus, splits its lines into training and held-out
// ones, and writes both as packed sequences of at most maxPieces pieces into
// dir (train.ids/train.idx, heldout.ids/heldout.idx, manifest.json). Blank
// lines end documents: sequences never span two. A corpus with no text in
// either split is an error.
func Tokenize(files []string, tok *tokenizer.Tokenizer, maxPieces int, heldout float64, pack bool, dir string, log io.Writer) (*Manifest, error) {
	if tok.VocabSize() > maxVocabulary {
		return nil, fmt.Errorf("a vocabulary of %d tokens is more than the %d pretraining stores", tok.VocabSize(), maxVocabulary)
	}
	m := &Manifest{Vocab: vocabHash(tok), MaxPieces: maxPieces, Heldout: heldout, Pack: pack,
		Splits: map[string]int{}, Tokens: map[string]int{}, Lines: map[string]int{}}
	for _, path := range files {
		st, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		abs, _ := filepath.Abs(path)
		m.Files = append(m.Files, FileInfo{Path: abs, Size: st.Size(), MTime: st.ModTime().UnixNano()})
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	splits := map[string]*packer{}
	var outs []*os.File
	for _, name := range []string{"train", "heldout"} {
		f, err := os.Create(filepath.Join(dir, name+".ids.tmp"))
		if err != nil {
			return nil, err
		}
		outs = append(outs, f)
		splits[name] = &packer{max: maxPieces, pack: pack, w: bufio.NewWriterSize(f, 1<<20), index: []int64{0}}
	}
	defer func() {
		for _, f := range outs {
			f.Close()
		}
	}()
	lines := 0
	err := text.Lines(files, func(line, file string, number int) error {
		lines++
		if lines%200000 == 0 && log != nil {
			fmt.Fprintf(log, "tokenized %d lines\n", lines)
		}
		if strings.TrimSpace(line) == "" { // a document boundary
			for _, p := range splits {
				if err := p.flush(); err != nil {
					return err
				}
			}
			return nil
		}
		name := "train"
		if heldOut(line, heldout) {
			name = "heldout"
		}
		e := tok.Encode(line)
		if len(e.IDs) == 0 {
			return nil
		}
		pieces := make([]uint32, len(e.IDs))
		for i, id := range e.IDs {
			pieces[i] = uint32(id)
			if i == 0 || e.WordIndex[i] != e.WordIndex[i-1] {
				pieces[i] |= startsWord
			}
		}
		pieces[0] |= startsLine
		m.Lines[name]++
		split, err := splits[name].add(pieces)
		if split {
			m.LongLines++
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for name, p := range splits {
		if err := p.flush(); err != nil {
			return nil, err
		}
		if err := p.w.Flush(); err != nil {
			return nil, err
		}
		m.Splits[name] = len(p.index) - 1
		m.Tokens[name] = p.tokens
		idx := make([]byte, 8*len(p.index))
		for i, o := range p.index {
			binary.LittleEndian.PutUint64(idx[8*i:], uint64(o))
		}
		if err := atomicfile.Write(filepath.Join(dir, name+".idx"), idx); err != nil {
			return nil, err
		}
	}
	for i, name := range []string{"train", "heldout"} {
		if err := outs[i].Sync(); err != nil {
			return nil, err
		}
		if err := os.Rename(filepath.Join(dir, name+".ids.tmp"), filepath.Join(dir, name+".ids")); err != nil {
			return nil, err
		}
	}
	if m.Splits["train"] == 0 {
		return nil, fmt.Errorf("the corpus (%s) has no training text", strings.Join(files, ", "))
	}
	if m.Splits["heldout"] == 0 {
		return nil, fmt.Errorf("no line of the corpus (%d lines) fell in the held-out share %g: raise data.heldout or add text", m.Lines["train"], heldout)
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.Write(filepath.Join(dir, "manifest.json"), b); err != nil {
		return nil, err
	}
	return m, nil
}

// readManifest reads dir/manifest.json, or returns nil if there is none.
func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "manifest.json"), err)
	}
	return &m, nil
}

// Dataset gives random access to the sequences of one split, reading them
// from disk as needed.
type Dataset struct {
	f       *os.File
	offsets []int64
}

// OpenDataset opens a split written by Tokenize.
func OpenDataset(dir, split string) (*Dataset, error) {
	idx, err := os.ReadFile(filepath.Join(dir, split+".idx"))
	if err != nil {
		return nil, err
	}
	if len(idx)%8 != 0 || len(idx) < 8 {
		return nil, fmt.Errorf("%s.idx: corrupt index", filepath.Join(dir, split))
	}
	offsets := make([]int64, len(idx)/8)
	for i := range offsets {
		offsets[i] = int64(binary.LittleEndian.Uint64(idx[8*i:]))
		if i > 0 && offsets[i] < offsets[i-1] {
			return nil, fmt.Errorf("%s.idx: offsets out of order", filepath.Join(dir, split))
		}
	}
	f, err := os.Open(filepath.Join(dir, split+".ids"))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.Size() != 4*offsets[len(offsets)-1] {
		f.Close()
		return nil, fmt.Errorf("%s.ids has %d bytes, its index %d", filepath.Join(dir, split), st.Size(), 4*offsets[len(offsets)-1])
	}
	return &Dataset{f: f, offsets: offsets}, nil
}

// Len returns the number of sequences.
func (d *Dataset) Len() int { return len(d.offsets) - 1 }

// Length returns the number of pieces of sequence i.
func (d *Dataset) Length(i int) int { return int(d.offsets[i+1] - d.offsets[i]) }

// Sequence returns sequence i's pieces (ids with flags).
func (d *Dataset) Sequence(i int) ([]uint32, error) {
	lo, hi := d.offsets[i], d.offsets[i+1]
	b := make([]byte, 4*(hi-lo))
	if _, err := d.f.ReadAt(b, 4*lo); err != nil {
		return nil, err
	}
	out := make([]uint32, hi-lo)
	for j := range out {
		out[j] = binary.LittleEndian.Uint32(b[4*j:])
	}
	return out, nil
}

// Close closes the ids file.
func (d *Dataset) Close() error { return d.f.Close() }

// Unigram counts how often each token id occurs in the split.
func (d *Dataset) Unigram(vocab int) ([]int64, error) {
	counts := make([]int64, vocab)
	r := bufio.NewReaderSize(io.NewSectionReader(d.f, 0, 4*d.offsets[len(d.offsets)-1]), 1<<20)
	var b [4]byte
	for {
		if _, err := io.ReadFull(r, b[:]); err == io.EOF {
			return counts, nil
		} else if err != nil {
			return nil, err
		}
		id := int(binary.LittleEndian.Uint32(b[:]) & idMask)
		if id < vocab {
			counts[id]++
		}
	}
}
