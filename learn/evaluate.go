package learn

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// EvalOptions configures Evaluate. The zero value evaluates the top 10,
// excluding training items, with every test interaction relevant.
type EvalOptions struct {
	// K is the list length for the ranking metrics (default 10).
	K int `json:"k"`
	// RelevanceThreshold, when > 0, counts only test interactions rated at
	// least this as relevant (e.g. 4 on a 5-star scale).
	RelevanceThreshold float64 `json:"relevance_threshold"`
	// IncludeSeen keeps items the user interacted with in training in the
	// recommendation lists.
	IncludeSeen bool `json:"include_seen"`
	// Workers is the number of goroutines that score users (default GOMAXPROCS).
	Workers int `json:"workers"`
}

// Report is the outcome of evaluating one model on a test set. Ranking
// metrics are means over RankedUsers: the test users that were in the
// training data and have at least one relevant test item. Rating metrics are
// over every test row, cold starts included; they are meaningful only for
// models whose Predict returns ratings (popularity, mf), not preferences
// (implicit-als).
type Report struct {
	Learner     string  `json:"learner"`
	K           int     `json:"k"`
	TrainRows   int     `json:"train_rows"`
	TestRows    int     `json:"test_rows"`
	FitSeconds  float64 `json:"fit_seconds"`
	EvalSeconds float64 `json:"eval_seconds"`

	RMSE                 float64 `json:"rmse"`
	MAE                  float64 `json:"mae"`
	ColdStartPredictions int     `json:"cold_start_predictions"`

	RankedUsers    int     `json:"ranked_users"`
	ColdStartUsers int     `json:"cold_start_users"`
	Precision      float64 `json:"precision_at_k"`
	Recall         float64 `json:"recall_at_k"`
	NDCG           float64 `json:"ndcg_at_k"`
	MAP            float64 `json:"map_at_k"`
	HitRate        float64 `json:"hit_rate_at_k"`
	Coverage       float64 `json:"coverage_at_k"`
}

// Evaluate fits l on train with params and evaluates the model on test
// (see EvaluateModel). train and test must share id maps, as Split's do.
func Evaluate(ctx context.Context, l Learner, train, test *Interactions, params Params, o EvalOptions) (*Report, Model, error) {
	start := time.Now()
	m, err := l.Fit(ctx, train, params)
	if err != nil {
		return nil, nil, err
	}
	fit := time.Since(start).Seconds()
	r, err := EvaluateModel(ctx, m, train, test, o)
	if err != nil {
		return nil, nil, err
	}
	r.Learner, r.FitSeconds = l.Name(), fit
	return r, m, nil
}

// EvaluateModel scores m on test: RMSE and MAE of Predict over every test
// row, and the ranking metrics of Recommend(user, K, !IncludeSeen) for each
// test user. Catalogue coverage is over the items of train. It returns an
// error wrapping ErrNoData when test is empty, or ctx.Err().
func EvaluateModel(ctx context.Context, m Model, train, test *Interactions, o EvalOptions) (*Report, error) {
	if test == nil || len(test.Rows) == 0 {
		return nil, fmt.Errorf("evaluate: empty test set: %w", ErrNoData)
	}
	if o.K == 0 {
		o.K = 10
	}
	if o.K < 0 {
		return nil, fmt.Errorf("evaluate k %d: want > 0: %w", o.K, ErrInvalidParam)
	}
	start := time.Now()
	rep := &Report{K: o.K, TestRows: len(test.Rows)}
	pred := make([]float64, len(test.Rows))
	act := make([]float64, len(test.Rows))
	relevant := map[string]map[string]bool{}
	for n, r := range test.Rows {
		user, item := test.Users.ID(r.User), test.Items.ID(r.Item)
		var cold bool
		pred[n], cold = m.Predict(user, item)
		act[n] = float64(r.Rating)
		if cold {
			rep.ColdStartPredictions++
		}
		if o.RelevanceThreshold > 0 && float64(r.Rating) < o.RelevanceThreshold {
			continue
		}
		if relevant[user] == nil {
			relevant[user] = map[string]bool{}
		}
		relevant[user][item] = true
	}
	rep.RMSE, rep.MAE = RMSE(pred, act), MAE(pred, act)

	trainUsers := map[string]bool{}
	catalogue := map[string]bool{}
	if train != nil {
		rep.TrainRows = len(train.Rows)
		for _, r := range train.Rows {
			trainUsers[train.Users.ID(r.User)] = true
			catalogue[train.Items.ID(r.Item)] = true
		}
	}
	users := make([]string, 0, len(relevant))
	for u := range relevant {
		if train == nil || trainUsers[u] {
			users = append(users, u)
		} else {
			rep.ColdStartUsers++
		}
	}
	// Users in a fixed order and per-user metrics summed in that order:
	// the report is the same to the last bit whatever the map iteration
	// and worker scheduling (a half-way value such as 0.16875 must not
	// round differently from run to run).
	slices.Sort(users)
	type acc struct{ p, r, ndcg, ap, hit float64 }
	lists := make([][]string, len(users))
	per := make([]acc, len(users))
	nworkers := workers(o.Workers)
	var wg sync.WaitGroup
	var next int
	var mu sync.Mutex
	for range nworkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				n := next
				next++
				mu.Unlock()
				if n >= len(users) {
					return
				}
				recs := m.Recommend(users[n], o.K, !o.IncludeSeen)
				ids := make([]string, len(recs))
				for j, s := range recs {
					ids[j] = s.Item
				}
				lists[n] = ids
				rel := relevant[users[n]]
				s := &per[n]
				s.p += PrecisionAt(o.K, ids, rel)
				s.r += RecallAt(o.K, ids, rel)
				s.ndcg += NDCGAt(o.K, ids, rel)
				s.ap += APAt(o.K, ids, rel)
				s.hit += HitAt(o.K, ids, rel)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var t acc
	for _, s := range per {
		t.p, t.r, t.ndcg, t.ap, t.hit = t.p+s.p, t.r+s.r, t.ndcg+s.ndcg, t.ap+s.ap, t.hit+s.hit
	}
	rep.RankedUsers = len(users)
	if n := float64(len(users)); n > 0 {
		rep.Precision, rep.Recall, rep.NDCG, rep.MAP, rep.HitRate = t.p/n, t.r/n, t.ndcg/n, t.ap/n, t.hit/n
	}
	rep.Coverage = Coverage(lists, len(catalogue))
	for _, p := range []*float64{&rep.RMSE, &rep.MAE} {
		if math.IsNaN(*p) {
			*p = 0
		}
	}
	rep.EvalSeconds = time.Since(start).Seconds()
	return rep, nil
}
