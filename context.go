package loopml

import "context"

type contextKey int

const (
	principalKey contextKey = iota + 1
	workspaceKey
	requestIDKey
)

// NewContextWithPrincipal returns a context carrying the principal (user or
// service identity) on whose behalf a mutation is made.
func NewContextWithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey, principal)
}

// PrincipalFromContext returns the principal in ctx, or AnonymousPrincipal.
func PrincipalFromContext(ctx context.Context) string {
	if p, ok := ctx.Value(principalKey).(string); ok && p != "" {
		return p
	}
	return AnonymousPrincipal
}

// NewContextWithWorkspace returns a context scoped to a workspace.
func NewContextWithWorkspace(ctx context.Context, workspace string) context.Context {
	return context.WithValue(ctx, workspaceKey, workspace)
}

// WorkspaceFromContext returns the workspace in ctx, or DefaultWorkspace.
func WorkspaceFromContext(ctx context.Context) string {
	if w, ok := ctx.Value(workspaceKey).(string); ok && w != "" {
		return w
	}
	return DefaultWorkspace
}

// NewContextWithRequestID returns a context carrying a request id for logs.
func NewContextWithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestIDFromContext returns the request id in ctx, or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
