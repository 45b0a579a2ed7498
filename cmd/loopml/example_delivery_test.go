package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestExampleDeliveryTrainEval(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, out := range []string{a, b} {
		if _, err := cliRun(t, "example", "delivery", "generate", "--rows", "2000", "--seed", "1", "--out", out); err != nil {
			t.Fatal(err)
		}
	}
	da, _ := os.ReadFile(filepath.Join(a, "deliveries.csv"))
	db, _ := os.ReadFile(filepath.Join(b, "deliveries.csv"))
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Fatalf("same flags gave different files (%d and %d bytes)", len(da), len(db))
	}
	if _, err := cliRun(t, "example", "delivery", "generate", "--rows", "10", "--out", a); loopml.ErrorCode(err) != loopml.ECONFLICT {
		t.Errorf("overwrite without --force: %v", err)
	}
	if _, err := cliRun(t, "example", "delivery", "generate", "--rows", "0", "--out", filepath.Join(dir, "c"), "--noise", "-1"); loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), "--noise") {
		t.Errorf("bad noise: %v", err)
	}

	data := filepath.Join(a, "deliveries.csv")
	home := filepath.Join(dir, "home")
	out, err := cliRun(t, "train", "linear", "--home", home, "--data", data, "--target", "delivery_minutes", "--exclude", "late", "--register", "eta", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var v trainView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Version != "1" || v.Params["l2"] == "" {
		t.Errorf("train view %+v", v)
	}
	out, err = cliRun(t, "eval", "logistic", "--home", home, "--data", data, "--target", "late", "--features", "distance_km,weather,prep_minutes", "--seed", "42")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Target:    late", "distance_km, weather, prep_minutes", "train 1600, test 400", "auc", "log_loss", "accuracy"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out)
		}
	}
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"train", "linear", "--data", data}, "--target"},
		{[]string{"train", "linear", "--data", data, "--target", "eta"}, "--target: column \"eta\""},
		{[]string{"eval", "linear", "--data", data, "--target", "late", "--features", "x"}, "--features"},
		{[]string{"eval", "linear", "--data", data, "--target", "late", "--split", "time"}, "random"},
	} {
		_, err := cliRun(t, append(tc.args, "--home", home)...)
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Errorf("%v: error %v, want EINVALID containing %q", tc.args, err, tc.msg)
		}
	}
}
