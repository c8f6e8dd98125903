// Package datasets reads the datasets tasks learn from: one Format per
// kind of file (CoNLL-U, CoNLL NER, TSV), registered by name, which reads a
// file into tasks.Examples whose gold annotation is a set of named columns,
// writes predictions back in the same format, and scores them with the
// format's metrics.
//
// A new format is a file that implements Format and registers itself:
//
//	func init() { datasets.Register("jsonl", jsonlFormat{}) }
package datasets

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/hiertune/hiertune/internal/yamlstrict"
	"github.com/hiertune/hiertune/loader/tokenizer"
	"github.com/hiertune/hiertune/tasks"
)

// Format is a kind of dataset file.
type Format interface {
	// Options returns a new value of the format's reading options with
	// their defaults (a pointer to a struct with yaml tags), or nil.
	Options() any
	// Describe checks the options and says what the examples carry.
	Describe(opts any) (tasks.Data, error)
	// Read reads a file into examples, saying on log what it repaired or
	// left out.
	Read(path string, opts any, log io.Writer) ([]*tasks.Example, error)
	// Write writes examples with the predictions of the tasks (in task
	// order) in the format, everything but the predicted columns as read.
	Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, opts any) error
	// Score returns the format's metrics of the tasks' predictions
	// against the examples' gold annotation, by metric name.
	Score(exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction, opts any) (map[string]float64, error)
	// MainMetric is the metric a task predicting columns is judged by.
	MainMetric(columns []string) string
}

// formats are the registered formats, by name.
var formats = map[string]Format{}

// Register makes a format available under name; it is called from the
// init function of the format's file.
func Register(name string, f Format) {
	if _, dup := formats[name]; dup {
		panic("datasets: format " + name + " registered twice")
	}
	formats[name] = f
}

// FormatNames returns the names of the registered formats, sorted.
func FormatNames() []string {
	names := make([]string, 0, len(formats))
	for n := range formats {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Config is one dataset of a job: its format, files and the format's
// options, which sit beside the common keys in YAML:
//
//	{format: conll, train: t.conll, dev: d.conll, token_prefix: "en:"}
type Config struct {
	Format string `yaml:"format"`
	Train  string `yaml:"train"`
	Dev    string `yaml:"dev"`
	// Limit keeps only the first Limit training examples (0: all), for
	// quick runs.
	Limit int `yaml:"limit"`
	// Options are the format's own settings (see Format.Options).
	Options any `yaml:"-"`
}

type common struct {
	Format string `yaml:"format"`
	Train  string `yaml:"train"`
	Dev    string `yaml:"dev,omitempty"`
	Limit  int    `yaml:"limit,omitempty"`
}

// UnmarshalYAML reads a dataset: the common keys, then the others as its
// format's options, each checked strictly.
func (c *Config) UnmarshalYAML(n *yaml.Node) error {
	in, rest, err := yamlstrict.Split(n, yamlstrict.Keys(common{}))
	if err != nil {
		return err
	}
	var cm common
	if err := yamlstrict.DecodeNode(in, &cm, "", nil); err != nil {
		return err
	}
	*c = Config{Format: cm.Format, Train: cm.Train, Dev: cm.Dev, Limit: cm.Limit}
	f, ok := formats[c.Format]
	if !ok {
		return fmt.Errorf("line %d: format must be one of %s, got %q", n.Line, strings.Join(FormatNames(), ", "), c.Format)
	}
	c.Options = f.Options()
	keys := yamlstrict.Keys(common{})
	if c.Options != nil {
		keys = append(keys, yamlstrict.Keys(c.Options)...)
		if err := yamlstrict.DecodeNode(rest, c.Options, "", nil); err != nil {
			return fmt.Errorf("%w (a %s dataset has %s)", err, c.Format, strings.Join(keys, ", "))
		}
	} else if len(rest.Content) > 0 {
		return fmt.Errorf("line %d: unknown key %q (a %s dataset has %s)", rest.Content[0].Line, rest.Content[0].Value, c.Format, strings.Join(keys, ", "))
	}
	return nil
}

// MarshalYAML writes the dataset as UnmarshalYAML reads it.
func (c Config) MarshalYAML() (any, error) {
	cm := common{Format: c.Format, Train: c.Train, Dev: c.Dev, Limit: c.Limit}
	if c.Options == nil {
		return cm, nil
	}
	return yamlstrict.Merge(cm, c.Options)
}

// Dataset is a configured dataset with its examples.
type Dataset struct {
	Name   string
	Config Config
	Format Format
	// Data says what the examples carry, for the tasks.
	Data       tasks.Data
	Train, Dev []*tasks.Example
}

// New checks a dataset's configuration. Its examples are read by Load.
func New(name string, c Config) (*Dataset, error) {
	f, ok := formats[c.Format]
	if !ok {
		return nil, fmt.Errorf("datasets.%s.format must be one of %s, got %q", name, strings.Join(FormatNames(), ", "), c.Format)
	}
	if c.Options == nil {
		c.Options = f.Options()
	}
	if c.Limit < 0 {
		return nil, fmt.Errorf("datasets.%s.limit must not be negative", name)
	}
	data, err := f.Describe(c.Options)
	if err != nil {
		return nil, fmt.Errorf("datasets.%s: %w", name, err)
	}
	data.Name, data.Format = name, c.Format
	return &Dataset{Name: name, Config: c, Format: f, Data: data}, nil
}

// Read reads a file of the dataset's format; log (nil: none) hears what
// was repaired or left out.
func (d *Dataset) Read(path string, log io.Writer) ([]*tasks.Example, error) {
	if log == nil {
		log = io.Discard
	}
	return d.Format.Read(path, d.Config.Options, log)
}

// Encode tokenizes examples read from file into windows of at most maxLen
// ids sharing stride (words longer than a window are split, texts cut),
// and reports on log how many were.
func (d *Dataset) Encode(exs []*tasks.Example, file string, tok *tokenizer.Tokenizer, maxLen, stride int, log io.Writer) error {
	windowed, cut := 0, 0
	for _, ex := range exs {
		if !d.Data.WordLevel {
			if ex.EncodeText(tok, maxLen) {
				cut++
			}
			continue
		}
		if err := ex.EncodeWords(tok, maxLen, stride); err != nil {
			return fmt.Errorf("%s:%d: %w", file, ex.Line, err)
		}
		if ex.Windows() > 1 {
			windowed++
		}
	}
	if log != nil && windowed > 0 {
		fmt.Fprintf(log, "%s: %d sentences longer than %d pieces, split into overlapping windows\n", file, windowed, maxLen)
	}
	if log != nil && cut > 0 {
		fmt.Fprintf(log, "%s: %d texts cut to %d pieces\n", file, cut, maxLen)
	}
	return nil
}

// Write writes examples with the tasks' predictions in the dataset's
// format.
func (d *Dataset) Write(w io.Writer, exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction) error {
	return d.Format.Write(w, exs, ts, preds, d.Config.Options)
}

// Score returns the metrics of the tasks' predictions on exs, keyed
// "dataset.metric".
func (d *Dataset) Score(exs []*tasks.Example, ts []*tasks.Task, preds map[*tasks.Task][]tasks.Prediction) (map[string]float64, error) {
	rep, err := d.Format.Score(exs, ts, preds, d.Config.Options)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", d.Name, err)
	}
	out := make(map[string]float64, len(rep))
	for k, v := range rep {
		out[d.Name+"."+k] = v
	}
	return out, nil
}

// MainMetric returns the metric that judges a task of the dataset, keyed
// "dataset.metric".
func (d *Dataset) MainMetric(t *tasks.Task) string {
	return d.Name + "." + d.Format.MainMetric(t.Head.Columns())
}

// addScores copies a task's scores into out, their keys prefixed with the
// task's name when the dataset's predictions hold several tasks.
func addScores(out map[string]float64, t *tasks.Task, several bool, scores map[string]float64) {
	prefix := ""
	if several {
		prefix = t.Config.Name + "_"
	}
	for k, v := range scores {
		out[prefix+k] = v
	}
}
