package datasets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hiertune/hiertune/data/conll"
	"github.com/hiertune/hiertune/metrics"
	"github.com/hiertune/hiertune/tasks"
)

func init() { Register("conll", conllFormat{}) }

// ConllOptions are the options of CoNLL NER data.
type ConllOptions struct {
	// TokenPrefix is a prefix every token carries (WikiANN's "en:").
	TokenPrefix string `yaml:"token_prefix"`
	// StripBOM removes U+FEFF from the text (WNUT-17 has them).
	StripBOM bool `yaml:"strip_bom"`
	// Scheme is the tag scheme: iob1, iob2 or iobes.
	Scheme string `yaml:"scheme"`
	// InvalidTags is what reading does with a sentence whose tags do not
	// follow the scheme (an I-X after O in IOB2): "error" names it,
	// "repair" rewrites its tags with the spans conlleval reads in them
	// (counted), "keep" takes them as they are (scoring then reads them as
	// seqeval's strict mode does).
	InvalidTags string `yaml:"invalid_tags"`
}

// conllFormat is CoNLL token-per-line data with one tag column (named
// entities), the tag last: scored by span precision, recall and F1.
// Predictions replace the tag column and keep every other byte.
type conllFormat struct{}

func (conllFormat) Options() any { return &ConllOptions{Scheme: "iob2", InvalidTags: "error"} }

func (conllFormat) Describe(opts any) (tasks.Data, error) {
	o := opts.(*ConllOptions)
	if !slices.Contains([]string{"iob1", "iob2", "iobes"}, o.Scheme) {
		return tasks.Data{}, fmt.Errorf("scheme must be iob1, iob2 or iobes, got %q", o.Scheme)
	}
	if !slices.Contains([]string{"error", "repair", "keep"}, o.InvalidTags) {
		return tasks.Data{}, fmt.Errorf("invalid_tags must be error, repair or keep, got %q", o.InvalidTags)
	}
	return tasks.Data{Columns: []string{"tag"}, WordLevel: true, Scheme: o.Scheme}, nil
}

// sentenceLines is a CoNLL example's annotation: its tags, and the lines
// of the file it came from, for writing it back.
type sentenceLines struct {
	tags []string
	// before holds the lines since the previous sentence (blank lines,
	// -DOCSTART-), lines the sentence's own, after (for the last sentence
	// of a file) the rest of the file; each with its line ending.
	before, after string
	lines         []string
}

func (s *sentenceLines) Column(name string) []string {
	if name == "tag" {
		return s.tags
	}
	return nil
}

// splitLines cuts text into its lines, each with its ending.
func splitLines(b []byte) []string {
	var out []string
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n') + 1
		if i == 0 {
			i = len(b)
		}
		out = append(out, string(b[:i]))
		b = b[i:]
	}
	return out
}

func (conllFormat) Read(path string, opts any, log io.Writer) ([]*tasks.Example, error) {
	o := opts.(*ConllOptions)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	scheme, err := conll.ParseScheme(o.Scheme)
	if err != nil {
		return nil, err
	}
	read := conll.Options{TokenPrefix: o.TokenPrefix, StripBOM: o.StripBOM}
	if o.InvalidTags == "error" {
		read.Scheme = scheme
	}
	sents, err := conll.Read(bytes.NewReader(b), path, read)
	if err != nil {
		return nil, err
	}
	lines := splitLines(b)
	var exs []*tasks.Example
	next, repaired := 0, 0
	for _, s := range sents {
		first := s.Line - 1
		ann := &sentenceLines{tags: s.Tags, before: strings.Join(lines[next:first], ""), lines: lines[first : first+len(s.Words)]}
		next = first + len(s.Words)
		if o.InvalidTags == "repair" && conll.Validate(s.Tags, scheme) != nil {
			if ann.tags, err = conll.Repair(s.Tags, scheme); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, s.Line, err)
			}
			repaired++
		}
		exs = append(exs, &tasks.Example{Words: s.Words, Gold: ann, Line: s.Line})
	}
	if len(exs) > 0 {
		exs[len(exs)-1].Gold.(*sentenceLines).after = strings.Join(lines[next:], "")
	}
	if repaired > 0 && log != nil {
		fmt.Fprintf(log, "%s: %d sentences whose tags do not follow %s repaired (invalid_tags: repair)\n", path, repaired, o.Scheme)
	}
	return exs, nil
}

// tagField returns where a line's tag, its last column, is: after its
// last tab or, without tabs, its last run of spaces, up to its ending.
func tagField(line string) (start, end int) {
	end = len(strings.TrimRight(line, "\r\n"))
	body := strings.TrimRight(line[:end], " ")
	if strings.Contains(body, "\t") {
		return strings.LastIndexByte(body, '\t') + 1, end
	}
	return strings.LastIndexByte(body, ' ') + 1, len(body)
}

// Write writes the file the examples were read from with the first task's
// tags in the tag column.
func (conllFormat) Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, _ any) error {
	bw := bufio.NewWriter(w)
	for i, ex := range exs {
		s := ex.Gold.(*sentenceLines)
		tags := preds[ts[0]][i]["tag"]
		bw.WriteString(s.before)
		for j, line := range s.lines {
			if strings.ContainsAny(tags[j], " \t\r\n") || tags[j] == "" {
				return fmt.Errorf("conll: writing line %d: tag %q cannot be written", ex.Line+j, tags[j])
			}
			start, end := tagField(line)
			bw.WriteString(line[:start])
			bw.WriteString(tags[j])
			bw.WriteString(line[end:])
		}
		bw.WriteString(s.after)
	}
	return bw.Flush()
}

// Score gives span precision, recall and F1, strict (seqeval's mode for
// the scheme) and lenient (conlleval's reading), for each task; with
// several tasks the keys start with the task's name.
func (conllFormat) Score(exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, opts any) (map[string]float64, error) {
	o := opts.(*ConllOptions)
	scheme := metrics.IOB2
	if o.Scheme == "iobes" {
		scheme = metrics.IOBES
	}
	out := map[string]float64{}
	for _, t := range ts {
		ps, ok := preds[t]
		if !ok {
			continue
		}
		var gold, pred [][]string
		for i, ex := range exs {
			gold, pred = append(gold, ex.Gold.Column("tag")), append(pred, ps[i]["tag"])
		}
		strict, err := metrics.Spans(gold, pred, scheme, o.Scheme != "iob1")
		if err != nil {
			return nil, err
		}
		lenient, err := metrics.Spans(gold, pred, scheme, false)
		if err != nil {
			return nil, err
		}
		report := strict.Report()
		report["ner_f1_lenient"] = lenient.F1
		addScores(out, t, len(preds) > 1, report)
	}
	return out, nil
}

func (conllFormat) MainMetric([]string) string { return "ner_f1" }
