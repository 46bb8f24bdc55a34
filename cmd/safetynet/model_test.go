package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"safetynet/scorer"
)

func TestModelShowAndCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := dispatch(t.Context(), []string{"model", "show"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), scorer.DefaultYAML()) {
		t.Error("model show does not print the default model")
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := dispatch(t.Context(), []string{"model", "check", good}, &out, &errOut); err != nil {
		t.Fatalf("check of the default model: %v", err)
	}
	if got := out.String(); !strings.HasPrefix(got, "ok: model "+scorer.Default().Version+", ") || !strings.Contains(got, "watch 30") {
		t.Errorf("check printed %q", got)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, bytes.Replace(scorer.DefaultYAML(), []byte("income: 0.25"), []byte("income: 0.20"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	err := dispatch(t.Context(), []string{"model", "check", bad}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "model: weights: sum to 0.95, must sum to 1") {
		t.Errorf("check of a bad model: err = %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("check of a bad model printed %q", out.String())
	}
	for _, args := range [][]string{nil, {"check"}, {"frobnicate"}, {"check", filepath.Join(dir, "absent.yaml")}} {
		if err := dispatch(t.Context(), append([]string{"model"}, args...), &out, &errOut); err == nil {
			t.Errorf("model %v: no error", args)
		}
	}
}

func TestAssessCmd(t *testing.T) {
	story := filepath.Join("..", "..", "scorer", "testdata", "stories", "1-unemployed-nephritis.json")
	var out, errOut bytes.Buffer
	if err := dispatch(t.Context(), []string{"assess", "-at", "2025-06-30T00:00:00Z", story}, &out, &errOut); err != nil {
		t.Fatalf("%v (stderr %s)", err, errOut.String())
	}
	got := out.String()
	for _, want := range []string{"household story-1", "total 总分 68.9", "level 等级 urgent", "health 健康状况", "住院 2 次（近 12 个月），自付 3 万元", "2 admissions in 12 months, out-of-pocket ¥30,000", "next change 下次变化: 2025-07-20T00:00:00Z"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}

	// -prev holds a level inside its hysteresis band; -json gives the assessment.
	out.Reset()
	recovered := filepath.Join("..", "..", "scorer", "testdata", "stories", "5-recovered.json")
	if err := dispatch(t.Context(), []string{"assess", "-at", "2026-07-12T00:00:00Z", "-json", recovered}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	var a struct {
		Level string  `json:"level"`
		Total float64 `json:"total"`
	}
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if a.Level != "" || a.Total != 12.4 {
		t.Errorf("json: level %q total %v", a.Level, a.Total)
	}

	// A stricter model file changes the verdict.
	dir := t.TempDir()
	strict := filepath.Join(dir, "strict.yaml")
	y := bytes.Replace(scorer.DefaultYAML(), []byte("{name: watch, threshold: 30"), []byte("{name: watch, threshold: 10"), 1)
	if err := os.WriteFile(strict, y, 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := dispatch(t.Context(), []string{"assess", "-model", strict, "-at", "2026-07-12T00:00:00Z", recovered}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "level 等级 watch") {
		t.Errorf("with watch at 10, output:\n%s", out.String())
	}

	badHousehold := filepath.Join(dir, "typo.json")
	if err := os.WriteFile(badHousehold, []byte(`{"id":"x","membres":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{},
		{"-at", "yesterday", story},
		{"-prev", "red", story},
		{"-model", filepath.Join(dir, "absent.yaml"), story},
		{badHousehold},
		{filepath.Join(dir, "absent.json")},
	} {
		errOut.Reset()
		if err := dispatch(t.Context(), append([]string{"assess"}, args...), &out, &errOut); err == nil {
			t.Errorf("assess %v: no error", args)
		}
	}
}
