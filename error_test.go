package loopml_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/loopml/loopml"
)

func TestErrorCodeAndMessage(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		wantCode string
		wantMsg  string
	}{
		{"nil", nil, "", ""},
		{"domain", loopml.Errorf(loopml.ENOTFOUND, "Run '%s' not found", "abc"), loopml.ENOTFOUND, "Run 'abc' not found"},
		{"wrapped", fmt.Errorf("log batch: %w", loopml.Errorf(loopml.EINVALID, "bad key")), loopml.EINVALID, "bad key"},
		{"other", errors.New("disk on fire"), loopml.EINTERNAL, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loopml.ErrorCode(tt.err); got != tt.wantCode {
				t.Errorf("ErrorCode = %q, want %q", got, tt.wantCode)
			}
			if got := loopml.ErrorMessage(tt.err); got != tt.wantMsg {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.wantMsg)
			}
		})
	}
}

func TestWrapErrorUnwraps(t *testing.T) {
	cause := errors.New("unique constraint failed")
	err := loopml.WrapError(loopml.ECONFLICT, cause, "Experiment '%s' already exists.", "x")
	if !errors.Is(err, cause) {
		t.Fatal("errors.Is(err, cause) = false, want true")
	}
	if got, want := err.Error(), "loopml error: code=conflict message=Experiment 'x' already exists.: unique constraint failed"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func ExampleErrorCode() {
	err := fmt.Errorf("get run: %w", loopml.Errorf(loopml.ENOTFOUND, "Run with id=%s not found", "42"))
	fmt.Println(loopml.ErrorCode(err))
	fmt.Println(loopml.ErrorMessage(err))
	// Output:
	// not_found
	// Run with id=42 not found
}
