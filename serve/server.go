// Package serve puts a fine-tuned model behind an HTTP/JSON API: raw text
// (split into sentences and words by a rule-based splitter and the
// tokenizer's pre-tokenizer), pre-tokenised sentences or a CoNLL-U
// document in; every task's predictions out (tags, features, heads and
// relations, entity spans with character offsets, sentence labels), or
// for CoNLL-U input the same CoNLL-U that predict writes. Concurrent
// requests are batched dynamically; the queue is bounded (503 with
// Retry-After when full); requests and sentences are limited (413, 422);
// /healthz, /readyz and /metrics (Prometheus) are served; Shutdown
// finishes the requests in flight.
package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hiertune/hiertune/datasets"
	"github.com/hiertune/hiertune/model"
	"github.com/hiertune/hiertune/tasks"
)

// Config sets the server's batching and limits.
type Config struct {
	// MaxBatch is the most sentences run together [32]. A batch takes
	// the sentences waiting when the model is free (those that arrived
	// while the last batch ran); MaxWait, if set, is how long its first
	// sentence then waits for more [0: not at all, which costs a lone
	// client no latency].
	MaxBatch int
	MaxWait  time.Duration
	// Queue is the most sentences waiting or running [1024]; a request
	// that would overflow it gets 503.
	Queue int
	// MaxBody is the largest request body in bytes [1 MiB] (413 beyond);
	// MaxSentences the most sentences per request [256] (413 beyond);
	// sentences longer than the model's max_words get 422.
	MaxBody      int64
	MaxSentences int
	// Timeout bounds a request from arrival to answer [30s] (504 beyond).
	Timeout time.Duration
}

// Defaults fills in the unset fields.
func (c *Config) Defaults() {
	if c.MaxBatch == 0 {
		c.MaxBatch = 32
	}
	if c.Queue == 0 {
		c.Queue = 1024
	}
	if c.MaxBody == 0 {
		c.MaxBody = 1 << 20
	}
	if c.MaxSentences == 0 {
		c.MaxSentences = 256
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
}

// Check refuses settings that cannot serve.
func (c *Config) Check() error {
	switch {
	case c.MaxBatch < 1 || c.Queue < 1 || c.MaxBody < 1 || c.MaxSentences < 1:
		return fmt.Errorf("batch size, queue, body and sentence limits must be positive")
	case c.MaxWait < 0 || c.Timeout <= 0:
		return fmt.Errorf("the batching wait must not be negative and the timeout must be positive")
	case c.MaxSentences > c.Queue:
		return fmt.Errorf("a request may hold %d sentences but the queue only %d", c.MaxSentences, c.Queue)
	}
	return nil
}

// Server serves one model.
type Server struct {
	m       *model.Model
	cfg     Config
	log     *slog.Logger
	b       *batcher
	metrics *metrics
	stop    chan struct{}
	ready   atomic.Bool
}

// New makes a server for m; Start runs its batcher.
func New(m *model.Model, cfg Config, log *slog.Logger) (*Server, error) {
	cfg.Defaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	s := &Server{m: m, cfg: cfg, log: log, stop: make(chan struct{})}
	s.metrics = newMetrics(func() int { return int(s.b.pending.Load()) })
	s.b = newBatcher(m, cfg.Queue, cfg.MaxBatch, cfg.MaxWait, s.metrics)
	return s, nil
}

// Start runs the batcher; the server is ready from then on.
func (s *Server) Start() {
	go s.b.run(s.stop)
	s.ready.Store(true)
}

// Drain stops taking requests (readyz fails) and, once the HTTP server has
// finished the ones in flight, stops the batcher; call it after
// http.Server.Shutdown.
func (s *Server) Drain() {
	s.ready.Store(false)
	close(s.stop)
	<-s.b.done
}

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/annotate", s.annotate)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		s.metrics.write(w)
	})
	return mux
}

// Request is the body of POST /v1/annotate: exactly one of Text,
// Sentences, Texts and CoNLLU.
type Request struct {
	// Dataset names the run's dataset whose tasks annotate (needed when
	// the run has several).
	Dataset string `json:"dataset,omitempty"`
	// Text is raw text: split into sentences and words (word-level
	// datasets), or one text to classify (sentence-level datasets).
	Text string `json:"text,omitempty"`
	// Sentences are pre-tokenised sentences (word-level datasets).
	Sentences [][]string `json:"sentences,omitempty"`
	// Texts are texts to classify (sentence-level datasets).
	Texts []string `json:"texts,omitempty"`
	// CoNLLU is a CoNLL-U document (a CoNLL-U dataset); the answer is then
	// the same CoNLL-U that predict writes, unless Format is "json".
	CoNLLU string `json:"conllu,omitempty"`
	// Format is "json" (the default, except for CoNLL-U input) or
	// "conllu".
	Format string `json:"format,omitempty"`
	// Probabilities adds each word's (or text's) confidence to the JSON
	// answer (model.Confidence).
	Probabilities bool `json:"probabilities,omitempty"`
}

// Response is the JSON answer: one entry per sentence (or text).
type Response struct {
	Sentences []Sentence `json:"sentences"`
}

// Sentence is one annotated sentence.
type Sentence struct {
	Words []string `json:"words,omitempty"`
	// Offsets are the words' byte offsets [start, end) in the request's
	// text (raw text input only).
	Offsets [][2]int `json:"offsets,omitempty"`
	// Predictions holds each task's predicted columns, by task name.
	Predictions map[string]map[string][]string `json:"predictions"`
	// Entities holds each tagging task's entity spans (for BIO tags), by
	// task name.
	Entities map[string][]Entity `json:"entities,omitempty"`
	// Probabilities holds, when asked, each task's confidences by score
	// block (the task's name, or a parser's "TASK.arc" over heads): one
	// per word (or text), the probability of the most likely class (for
	// independent labels, the least certain decision's).
	Probabilities map[string]model.Confidence `json:"probabilities,omitempty"`
}

// Entity is a span of words [Start, End) of a type, with its byte offsets
// in the request's text when it was raw text.
type Entity struct {
	Type      string `json:"type"`
	Start     int    `json:"start"`
	End       int    `json:"end"`
	Text      string `json:"text"`
	CharStart *int   `json:"char_start,omitempty"`
	CharEnd   *int   `json:"char_end,omitempty"`
}

// apiError is an error answer: its status and a one-line message.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func fail(status int, format string, args ...any) *apiError {
	return &apiError{status: status, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) annotate(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.Timeout)
	defer cancel()
	n, words, err := s.serve(ctx, w, r)
	status := http.StatusOK
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			ae = fail(http.StatusInternalServerError, "%v", err)
		}
		status = ae.status
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "1")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": ae.msg})
	}
	s.metrics.request(status, time.Since(start).Seconds())
	s.log.Info("annotate", "status", status, "sentences", n, "words", words, "ms", float64(time.Since(start).Microseconds())/1000, "remote", r.RemoteAddr)
}

// serve answers one annotation request, or returns the error to answer.
func (s *Server) serve(ctx context.Context, w http.ResponseWriter, r *http.Request) (sentences, words int, err error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return 0, 0, fail(http.StatusRequestEntityTooLarge, "the body is larger than %d bytes", s.cfg.MaxBody)
		}
		return 0, 0, fail(http.StatusBadRequest, "reading the body: %v", err)
	}
	if !utf8.Valid(body) {
		return 0, 0, fail(http.StatusBadRequest, "the body is not valid UTF-8 (at byte %d)", invalidAt(body))
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return 0, 0, fail(http.StatusBadRequest, "the body is not a valid request: %v", err)
	}
	d, err := s.m.Dataset(req.Dataset)
	if err != nil {
		return 0, 0, fail(http.StatusUnprocessableEntity, "%v", err)
	}
	in, err := s.examples(d, &req)
	if err != nil {
		return 0, 0, err
	}
	for _, ex := range in.exs {
		words += len(ex.Words)
	}
	if req.Probabilities && (req.Format == "conllu" || (req.CoNLLU != "" && req.Format == "")) {
		return len(in.exs), words, fail(http.StatusUnprocessableEntity, "probabilities come in the JSON answer: give \"format\": \"json\"")
	}
	preds, conf, err := s.run(ctx, d, in.exs, req.Probabilities)
	if err != nil {
		return len(in.exs), words, err
	}
	if req.Format == "conllu" || (req.CoNLLU != "" && req.Format == "") {
		var buf bytes.Buffer
		if err := d.Write(&buf, in.exs, s.m.TasksOf(d), preds); err != nil {
			return len(in.exs), words, err
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = w.Write(buf.Bytes())
		return len(in.exs), words, err
	}
	w.Header().Set("Content-Type", "application/json")
	return len(in.exs), words, json.NewEncoder(w).Encode(s.response(d, in, preds, conf, req.Text))
}

// input is a request's examples, with the words' byte offsets in its raw
// text if any.
type input struct {
	exs     []*tasks.Example
	offsets [][][2]int
}

type noGold struct{}

func (noGold) Column(string) []string { return nil }

// examples reads a request's input into encoded examples, within the
// limits.
func (s *Server) examples(d *datasets.Dataset, req *Request) (*input, error) {
	given := 0
	for _, set := range []bool{req.Text != "", req.Sentences != nil, req.Texts != nil, req.CoNLLU != ""} {
		if set {
			given++
		}
	}
	if given != 1 {
		return nil, fail(http.StatusUnprocessableEntity, "give exactly one of text, sentences, texts and conllu")
	}
	if req.Format != "" && req.Format != "json" && req.Format != "conllu" {
		return nil, fail(http.StatusUnprocessableEntity, "format must be json or conllu, got %q", req.Format)
	}
	if req.Format == "conllu" && req.CoNLLU == "" {
		return nil, fail(http.StatusUnprocessableEntity, "format conllu answers CoNLL-U input only")
	}
	in := &input{}
	word := d.Data.WordLevel
	switch {
	case req.CoNLLU != "":
		if d.Config.Format != "conllu" {
			return nil, fail(http.StatusUnprocessableEntity, "dataset %s reads %s, not CoNLL-U", d.Name, d.Config.Format)
		}
		exs, err := readCoNLLU(d, req.CoNLLU)
		if err != nil {
			return nil, fail(http.StatusUnprocessableEntity, "conllu: %v", err)
		}
		in.exs = exs
	case req.Sentences != nil:
		if !word {
			return nil, fail(http.StatusUnprocessableEntity, "dataset %s classifies texts: give texts or text", d.Name)
		}
		for _, ws := range req.Sentences {
			in.exs = append(in.exs, &tasks.Example{Words: ws, Gold: noGold{}})
		}
	case req.Texts != nil:
		if word {
			return nil, fail(http.StatusUnprocessableEntity, "dataset %s annotates words: give text or sentences", d.Name)
		}
		for _, t := range req.Texts {
			in.exs = append(in.exs, &tasks.Example{Text: t, Gold: noGold{}})
		}
	case word:
		ws, offs := Sentences(s.m.Tok, req.Text)
		for _, w := range ws {
			in.exs = append(in.exs, &tasks.Example{Words: w, Gold: noGold{}})
		}
		in.offsets = offs
	default:
		in.exs = []*tasks.Example{{Text: req.Text, Gold: noGold{}}}
	}
	if len(in.exs) == 0 {
		return nil, fail(http.StatusUnprocessableEntity, "the request holds no sentence")
	}
	if len(in.exs) > s.cfg.MaxSentences {
		return nil, fail(http.StatusRequestEntityTooLarge, "%d sentences, more than the limit of %d per request", len(in.exs), s.cfg.MaxSentences)
	}
	for i, ex := range in.exs {
		switch {
		case word && len(ex.Words) == 0:
			return nil, fail(http.StatusUnprocessableEntity, "sentence %d has no words", i+1)
		case word && len(ex.Words) > s.m.MaxWords:
			return nil, fail(http.StatusUnprocessableEntity, "sentence %d has %d words, more than the limit of %d", i+1, len(ex.Words), s.m.MaxWords)
		case !word && strings.TrimSpace(ex.Text) == "":
			return nil, fail(http.StatusUnprocessableEntity, "text %d is empty", i+1)
		}
		for j, w := range ex.Words {
			if strings.TrimSpace(w) == "" || strings.ContainsAny(w, " \t\n\r") {
				return nil, fail(http.StatusUnprocessableEntity, "sentence %d, word %d (%q): a word must be non-empty and hold no white space", i+1, j+1, w)
			}
		}
		if word {
			if err := ex.EncodeWords(s.m.Tok, s.m.MaxLength, s.m.Stride); err != nil {
				return nil, fail(http.StatusUnprocessableEntity, "sentence %d: %v", i+1, err)
			}
		} else {
			ex.EncodeText(s.m.Tok, s.m.MaxLength)
		}
	}
	return in, nil
}

// readCoNLLU reads a CoNLL-U document as the dataset's reader reads a
// file, so that the answer is what predict writes.
func readCoNLLU(d *datasets.Dataset, doc string) ([]*tasks.Example, error) {
	dir, err := os.MkdirTemp("", "hiertune-serve-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "request.conllu")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		return nil, err
	}
	exs, err := d.Read(path, io.Discard)
	if err != nil {
		return nil, errors.New(strings.ReplaceAll(err.Error(), path, "line"))
	}
	return exs, nil
}

// run queues the examples and waits for their predictions.
func (s *Server) run(ctx context.Context, d *datasets.Dataset, exs []*tasks.Example, confidence bool) (map[*tasks.Task][]tasks.Prediction, map[*tasks.Task][]model.Confidence, error) {
	if !s.ready.Load() {
		return nil, nil, fail(http.StatusServiceUnavailable, "the server is shutting down")
	}
	if !s.b.admit(len(exs)) {
		return nil, nil, fail(http.StatusServiceUnavailable, "the queue is full (%d sentences): retry later", s.cfg.Queue)
	}
	jobs := make([]*job, len(exs))
	for i, ex := range exs {
		jobs[i] = &job{ctx: ctx, d: d, ex: ex, confidence: confidence, out: make(chan result, 1)}
		s.b.submit(jobs[i])
	}
	out := map[*tasks.Task][]tasks.Prediction{}
	conf := map[*tasks.Task][]model.Confidence{}
	for _, t := range s.m.TasksOf(d) {
		out[t], conf[t] = make([]tasks.Prediction, len(exs)), make([]model.Confidence, len(exs))
	}
	for i, j := range jobs {
		var res result
		select {
		case res = <-j.out:
		case <-ctx.Done():
			return nil, nil, ctxError(ctx)
		}
		if res.err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctxError(ctx)
			}
			return nil, nil, res.err
		}
		for t, p := range res.pred {
			out[t][i] = p
		}
		for t, c := range res.conf {
			conf[t][i] = c
		}
	}
	return out, conf, nil
}

func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fail(http.StatusGatewayTimeout, "the request took longer than its timeout")
	}
	return fail(499, "the client closed the request") // nginx's code: nobody reads it
}

// response lays out the predictions as JSON.
func (s *Server) response(d *datasets.Dataset, in *input, preds map[*tasks.Task][]tasks.Prediction, conf map[*tasks.Task][]model.Confidence, text string) *Response {
	resp := &Response{Sentences: make([]Sentence, len(in.exs))}
	ts := s.m.TasksOf(d)
	for i, ex := range in.exs {
		sent := Sentence{Words: ex.Words, Predictions: map[string]map[string][]string{}}
		if in.offsets != nil {
			sent.Offsets = in.offsets[i]
		}
		for _, t := range ts {
			p := preds[t][i]
			sent.Predictions[t.Config.Name] = p
			if c := conf[t][i]; c != nil {
				// A parser's relation scores are taken at the gold heads
				// (for distillation), which a served sentence has not.
				delete(c, t.Config.Name+".rel")
				if sent.Probabilities == nil {
					sent.Probabilities = map[string]model.Confidence{}
				}
				sent.Probabilities[t.Config.Name] = c
			}
			if d.Data.Scheme == "" {
				continue
			}
			for _, tags := range p {
				ents := spans(tags, ex.Words)
				if in.offsets != nil {
					for k := range ents {
						cs, ce := in.offsets[i][ents[k].Start][0], in.offsets[i][ents[k].End-1][1]
						ents[k].CharStart, ents[k].CharEnd = &cs, &ce
						ents[k].Text = text[cs:ce]
					}
				}
				if sent.Entities == nil {
					sent.Entities = map[string][]Entity{}
				}
				sent.Entities[t.Config.Name] = ents
			}
		}
		resp.Sentences[i] = sent
	}
	return resp
}

// spans returns the entities of BIO (or BIOES) tags: B-X or S-X starts
// one, I-X and E-X of the same type continue it, anything else ends it.
func spans(tags, words []string) []Entity {
	ents := []Entity{}
	open := -1
	for i, tag := range append(tags, "O") {
		prefix, typ, _ := strings.Cut(tag, "-")
		continues := open >= 0 && (prefix == "I" || prefix == "E") && typ == ents[open].Type
		if open >= 0 && !continues {
			ents[open].End = i
			ents[open].Text = strings.Join(words[ents[open].Start:i], " ")
			open = -1
		}
		if !continues && (prefix == "B" || prefix == "S" || prefix == "I") && typ != "" {
			ents = append(ents, Entity{Type: typ, Start: i})
			open = len(ents) - 1
		}
	}
	return ents
}

// invalidAt returns the offset of the first invalid UTF-8 byte of b.
func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n == 1 {
			return i
		}
		i += n
	}
	return len(b)
}
