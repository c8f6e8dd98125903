package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"

	"github.com/hiertune/hiertune/kernels"
	"github.com/hiertune/hiertune/serve"
)

// serveReady, when set (by tests), receives the address the server
// listens on once it is ready, and stopping it shuts the server down.
var serveReady func(addr string, stop func())

func runServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve --run DIR [--checkpoint best] [--engine go|onnx --onnx FILE] [--addr 127.0.0.1:8080]", stdout, stderr)
	runDir := fs.String("run", "", "the fine-tuning (or distillation student) run to serve")
	checkpoint := fs.String("checkpoint", "best", "which checkpoint: best, latest, or a step-NNNNNNN name")
	addr := fs.String("addr", "127.0.0.1:8080", "the address to listen on")
	var cfg serve.Config
	cfg.Defaults()
	fs.IntVar(&cfg.MaxBatch, "max-batch", cfg.MaxBatch, "the most sentences the model runs together")
	fs.DurationVar(&cfg.MaxWait, "max-wait", cfg.MaxWait, "how long a batch's first sentence waits for others")
	fs.IntVar(&cfg.Queue, "queue", cfg.Queue, "the most sentences waiting or running; beyond, requests get 503 with Retry-After")
	fs.Int64Var(&cfg.MaxBody, "max-body", cfg.MaxBody, "the largest request body in bytes (413 beyond)")
	fs.IntVar(&cfg.MaxSentences, "max-sentences", cfg.MaxSentences, "the most sentences per request (413 beyond)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "the longest a request may take (504 beyond)")
	threads := fs.Int("threads", kernels.Threads(), "threads the model computes with")
	engine := engineFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *runDir == "" {
		return usageError{"--run is required"}
	}
	if *threads < 1 {
		return usageError{"--threads must be positive"}
	}
	if err := cfg.Check(); err != nil {
		return usageError{err.Error()}
	}
	kernels.SetThreads(*threads)
	m, closeEngine, err := engine.open(*runDir, *checkpoint)
	if err != nil {
		return err
	}
	defer closeEngine()
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	s, err := serve.New(m, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	s.Start()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "run", *runDir, "engine", *engine.engine)
	fmt.Fprintf(stdout, "serving %s on http://%s (POST /v1/annotate; /healthz, /readyz, /metrics)\n", *runDir, ln.Addr())
	if serveReady != nil {
		serveReady(ln.Addr().String(), stop)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing the requests in flight")
	shut, cancel := context.WithTimeout(context.Background(), cfg.Timeout+5*time.Second)
	defer cancel()
	err = srv.Shutdown(shut)
	s.Drain()
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}
