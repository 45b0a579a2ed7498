package loopml_test

import (
	"context"
	"testing"

	"github.com/loopml/loopml"
)

func TestContextDefaults(t *testing.T) {
	ctx := context.Background()
	if got := loopml.PrincipalFromContext(ctx); got != loopml.AnonymousPrincipal {
		t.Errorf("principal = %q, want %q", got, loopml.AnonymousPrincipal)
	}
	if got := loopml.WorkspaceFromContext(ctx); got != loopml.DefaultWorkspace {
		t.Errorf("workspace = %q, want %q", got, loopml.DefaultWorkspace)
	}
	if got := loopml.RequestIDFromContext(ctx); got != "" {
		t.Errorf("request id = %q, want empty", got)
	}
	ctx = loopml.NewContextWithPrincipal(ctx, "alice")
	ctx = loopml.NewContextWithWorkspace(ctx, "recs")
	ctx = loopml.NewContextWithRequestID(ctx, "req-1")
	if got := loopml.PrincipalFromContext(ctx); got != "alice" {
		t.Errorf("principal = %q, want alice", got)
	}
	if got := loopml.WorkspaceFromContext(ctx); got != "recs" {
		t.Errorf("workspace = %q, want recs", got)
	}
	if got := loopml.RequestIDFromContext(ctx); got != "req-1" {
		t.Errorf("request id = %q, want req-1", got)
	}
}
