package learn

import (
	"context"
	"math"
)

// ProgressFunc receives the metrics of one training epoch (an ALS sweep,
// a Newton iteration), numbered from 1. It is called synchronously from
// the goroutine running Fit, between epochs, so it must be quick; metrics
// is not reused after the call.
type ProgressFunc func(epoch int, metrics map[string]float64)

type progressKey struct{}

// WithProgress returns a context under which learners that report progress
// call f after each epoch: mf (train_rmse, and val_rmse while
// choosing the number of epochs), implicit-als (loss) and logistic (loss,
// log_loss). Learners without epochs ignore it.
func WithProgress(ctx context.Context, f ProgressFunc) context.Context {
	return context.WithValue(ctx, progressKey{}, f)
}

// progress returns the ProgressFunc of ctx, or nil.
func progress(ctx context.Context) ProgressFunc {
	f, _ := ctx.Value(progressKey{}).(ProgressFunc)
	return f
}

// rmseOn returns the RMSE of m's (clipped) predictions on rows.
func (m *MFModel) rmseOn(rows []Interaction) float64 {
	var se float64
	for _, r := range rows {
		d := m.predictIdx(r.User, r.Item) - float64(r.Rating)
		se += d * d
	}
	return math.Sqrt(se / float64(max(len(rows), 1)))
}

// loss returns the implicit-ALS objective per interaction:
// (Σ_{u,i} c_ui (p_ui − x_u·y_i)² + λ(‖X‖² + ‖Y‖²)) / R, computed as
// Σ_u x_uᵀ(YᵀY)x_u plus a correction over the R observed pairs.
func (m *ImplicitALSModel) loss(byUser csr, lambda, alpha float64) float64 {
	k := m.k
	gram := make([]float64, k*k)
	gramPlusReg(m.y, k, 0, gram)
	var s float64
	gx := make([]float64, k)
	for u := 0; u+1 < len(byUser.ptr); u++ {
		xu := m.x[u*k : (u+1)*k]
		for i := 0; i < k; i++ {
			gx[i] = dot(gram[i*k:(i+1)*k], xu)
		}
		s += dot(xu, gx)
		for e := byUser.ptr[u]; e < byUser.ptr[u+1]; e++ {
			v := dot(xu, m.y[int(byUser.cols[e])*k:int(byUser.cols[e]+1)*k])
			c := 1 + alpha*float64(byUser.vals[e])
			s += c*(1-v)*(1-v) - v*v
		}
	}
	s += lambda * (dot(m.x, m.x) + dot(m.y, m.y))
	return s / float64(max(len(byUser.cols), 1))
}
