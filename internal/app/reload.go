package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"

	"safetynet/scorer"
)

// modelReloader reloads SAFETYNET_MODEL_FILE when the process is told to (SIGHUP, in main) and
// hands a changed model to the monitor, which re-scores every household in the background. A
// file that fails its check, or that changed without a new version, is refused: the running
// model stays.
type modelReloader struct {
	path    string
	current *scorer.Model
	data    []byte // the file the running model came from
	swap    func(old, new *scorer.Model)
	logger  *slog.Logger
}

// loadModel reads the model file, or takes the built-in model when path is empty.
func loadModel(path string) (*scorer.Model, []byte, error) {
	if path == "" {
		return scorer.Default(), scorer.DefaultYAML(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%sMODEL_FILE: %w", EnvPrefix, err)
	}
	m, err := scorer.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%sMODEL_FILE: %s: %w", EnvPrefix, path, err)
	}
	return m, data, nil
}

// run reloads on every signal of reload until ctx ends.
func (r *modelReloader) run(ctx context.Context, reload <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-reload:
			r.reload()
		}
	}
}

// reload reads the file again and swaps the model when it changed; it reports whether it did.
func (r *modelReloader) reload() bool {
	if r.path == "" {
		r.logger.Warn("reload asked for, but no model file is configured (SAFETYNET_MODEL_FILE): the built-in model stays")
		return false
	}
	m, data, err := loadModel(r.path)
	if err != nil {
		r.logger.Error("model file refused on reload; the running model stays", "err", err, "model", r.current.Version)
		return false
	}
	switch {
	case bytes.Equal(data, r.data):
		r.logger.Info("model file reloaded: unchanged", "model", r.current.Version)
		return false
	case m.Version == r.current.Version:
		r.logger.Error("model file refused on reload: it changed but its version did not (households are re-scored by version: give the changed model a new version); the running model stays",
			"model", r.current.Version, "file", r.path)
		return false
	}
	r.logger.Info("model file reloaded", "from_model", r.current.Version, "to_model", m.Version, "file", r.path)
	r.swap(r.current, m)
	r.current, r.data = m, data
	return true
}
