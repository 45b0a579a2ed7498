package learn_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loopml/loopml/learn"
)

// planted returns two user groups with opposite tastes: group A rates 6 of
// items a0..a9 with 5 and (with dislikes) 3 of b0..b9 with 1, group B the
// reverse, and everyone rates two of the filler items f0..f9 with 3. Each
// user's 4 unseen items of their own block are the right recommendations.
func planted() *learn.Interactions { return plantedData(true) }

func plantedData(dislikes bool) *learn.Interactions {
	rng := rand.New(rand.NewPCG(1, 2))
	d := learn.NewInteractions()
	for u := 0; u < 40; u++ {
		group, other := "a", "b"
		if u >= 20 {
			group, other = "b", "a"
		}
		user := fmt.Sprintf("%s-user%d", group, u)
		for _, i := range rng.Perm(10)[:6] {
			d.Add(user, fmt.Sprintf("%s%d", group, i), 5, int64(u))
		}
		for _, i := range rng.Perm(10)[:3] {
			if dislikes {
				d.Add(user, fmt.Sprintf("%s%d", other, i), 1, int64(u))
			}
		}
		for _, i := range rng.Perm(10)[:2] {
			d.Add(user, fmt.Sprintf("f%d", i), 3, int64(u))
		}
	}
	return d
}

func fitAll(t *testing.T, d *learn.Interactions) map[string]learn.Model {
	t.Helper()
	out := map[string]learn.Model{}
	for _, name := range learn.Learners() {
		l, err := learn.LearnerByName(name)
		if err != nil {
			t.Fatal(err)
		}
		m, err := l.Fit(context.Background(), d, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = m
	}
	return out
}

func TestPlantedPreferencesRankedFirst(t *testing.T) {
	// Explicit MF learns from the dislikes; implicit ALS sees every rating
	// as an interaction, so its data has none. Its defaults are tuned for
	// MovieLens; on 30 items 32 factors would memorise each user's rows, so
	// use the true rank (two tastes).
	for name, params := range map[string]learn.Params{
		learn.KindMF:          nil,
		learn.KindImplicitALS: {"factors": "2", "lambda": "0.1", "alpha": "1", "binary": "true"},
	} {
		d := plantedData(name == learn.KindMF)
		t.Run(name, func(t *testing.T) {
			l, _ := learn.LearnerByName(name)
			m, err := l.Fit(context.Background(), d, params)
			if err != nil {
				t.Fatal(err)
			}
			for _, user := range d.Users.IDs() {
				recs := m.Recommend(user, 3, true)
				if len(recs) != 3 {
					t.Fatalf("%s: got %d recommendations, want 3", user, len(recs))
				}
				for _, r := range recs {
					if r.Item[0] != user[0] || r.ColdStart {
						t.Errorf("%s: recommended %+v, want an unseen item of block %c", user, r, user[0])
					}
				}
			}
		})
	}
}

func TestMFRecoversBiases(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const nu, ni, mu = 30, 20, 3.0
	bu, bi := make([]float64, nu), make([]float64, ni)
	for i := range bu {
		bu[i] = rng.Float64()*2 - 1
	}
	for i := range bi {
		bi[i] = rng.Float64()*2 - 1
	}
	d := learn.NewInteractions()
	for u := 0; u < nu; u++ {
		for i := 0; i < ni; i++ {
			d.Add(fmt.Sprint("u", u), fmt.Sprint("i", i), float32(mu+bu[u]+bi[i]), 0)
		}
	}
	m, err := learn.FitMF(context.Background(), d, learn.MFOptions{Factors: 2, Lambda: 1e-4, BiasLambda: 1e-6, Epochs: 30, NoEarlyStopping: true})
	if err != nil {
		t.Fatal(err)
	}
	// Biases are identified up to a shift between users and items, so
	// compare differences to item 0 and user 0.
	b0, _ := m.ItemBias("i0")
	for i := 1; i < ni; i++ {
		got, _ := m.ItemBias(fmt.Sprint("i", i))
		if math.Abs((got-b0)-(bi[i]-bi[0])) > 0.02 {
			t.Errorf("item %d: bias difference %.3f, want %.3f", i, got-b0, bi[i]-bi[0])
		}
	}
	u0, _ := m.UserBias("u0")
	for u := 1; u < nu; u++ {
		got, _ := m.UserBias(fmt.Sprint("u", u))
		if math.Abs((got-u0)-(bu[u]-bu[0])) > 0.02 {
			t.Errorf("user %d: bias difference %.3f, want %.3f", u, got-u0, bu[u]-bu[0])
		}
	}
	if got := m.GlobalMean(); math.Abs(got-mu-mean(bu)-mean(bi)) > 1e-5 {
		t.Errorf("global mean %.4f, want %.4f", got, mu+mean(bu)+mean(bi))
	}
	var pred, act []float64
	for _, r := range d.Rows {
		p, cold := m.Predict(d.Users.ID(r.User), d.Items.ID(r.Item))
		if cold {
			t.Fatal("known pair flagged cold start")
		}
		pred, act = append(pred, p), append(act, float64(r.Rating))
	}
	if rmse := learn.RMSE(pred, act); rmse > 0.02 {
		t.Errorf("training RMSE %.4f, want ≤ 0.02", rmse)
	}
}

func mean(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func TestPopularity(t *testing.T) {
	d := learn.NewInteractions()
	add := func(item string, n int, rating float32, time int64) {
		for u := 0; u < n; u++ {
			d.Add(fmt.Sprint("u", u), item, rating, time)
		}
	}
	add("hit", 20, 5, 0)
	add("niche", 2, 5, 0) // too few ratings to be recommended
	add("meh", 20, 3, 150)
	add("ok", 15, 4, 0)
	items := func(s []learn.Scored) []string {
		var out []string
		for _, x := range s {
			out = append(out, x.Item)
		}
		return out
	}
	tests := []struct {
		name string
		o    learn.PopularityOptions
		want []string
	}{
		{"bayesian average", learn.PopularityOptions{}, []string{"hit", "ok", "meh"}},
		{"min rating", learn.PopularityOptions{MinRating: 4}, []string{"hit", "ok"}},
		{"time window", learn.PopularityOptions{Since: 100, Until: 200}, []string{"meh"}},
		{"by count", learn.PopularityOptions{By: "count", MinCount: 1}, []string{"hit", "meh", "ok", "niche"}},
		{"low min count", learn.PopularityOptions{MinCount: 2, PriorCount: 1}, []string{"hit", "niche", "ok", "meh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := learn.FitPopularity(context.Background(), d, tt.o)
			if err != nil {
				t.Fatal(err)
			}
			if got := items(m.Recommend("stranger", 10, true)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	m, _ := learn.FitPopularity(context.Background(), d, learn.PopularityOptions{})
	// u17 rated hit and meh, not ok (rated by u0..u14).
	if got := items(m.Recommend("u17", 10, true)); !reflect.DeepEqual(got, []string{"ok"}) {
		t.Errorf("u17 with seen excluded: got %v, want [ok]", got)
	}
	if got := items(m.Recommend("u17", 2, false)); !reflect.DeepEqual(got, []string{"hit", "ok"}) {
		t.Errorf("u17 with seen kept, k=2: got %v", got)
	}
	// Bayesian average of ok: (10·m + 15·4) / 25 with m the global mean.
	gm := (20*5 + 2*5 + 20*3 + 15*4) / 57.0
	if got, cold := m.Predict("u0", "ok"); math.Abs(got-(10*gm+60)/25) > 1e-9 || cold {
		t.Errorf("Predict(u0, ok) = %v, %v; want %v, false", got, cold, (10*gm+60)/25)
	}
}

func TestColdStart(t *testing.T) {
	d := planted()
	for name, m := range fitAll(t, d) {
		t.Run(name, func(t *testing.T) {
			recs := m.Recommend("stranger", 5, true)
			if len(recs) != 5 {
				t.Fatalf("got %d recommendations, want 5", len(recs))
			}
			for n, r := range recs {
				if !r.ColdStart {
					t.Errorf("entry %d not flagged cold start", n)
				}
				if n > 0 && r.Score > recs[n-1].Score {
					t.Errorf("entry %d scores above entry %d", n, n-1)
				}
			}
			if _, cold := m.Predict("stranger", "a1"); !cold {
				t.Error("Predict for an unknown user not flagged cold start")
			}
			if _, cold := m.Predict("a-user0", "unheard-of"); !cold {
				t.Error("Predict for an unknown item not flagged cold start")
			}
			if _, cold := m.Predict("a-user0", "a1"); cold {
				t.Error("Predict for known user and item flagged cold start")
			}
			if recs := m.Recommend("a-user0", 5, true); len(recs) == 0 || recs[0].ColdStart {
				t.Errorf("known user got %v", recs)
			}
		})
	}
}

// countdownCtx reports cancellation after its Err method has been called n times.
type countdownCtx struct {
	context.Context
	n atomic.Int64
}

func (c *countdownCtx) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestFitCancelled(t *testing.T) {
	d := planted()
	for _, name := range learn.Learners() {
		l, _ := learn.LearnerByName(name)
		t.Run(name+"/before", func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if _, err := l.Fit(ctx, d, nil); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
		})
		if name == learn.KindPopularity {
			continue // one pass: only checked at the start
		}
		t.Run(name+"/during", func(t *testing.T) {
			ctx := &countdownCtx{Context: context.Background()}
			ctx.n.Store(5)
			if _, err := l.Fit(ctx, d, nil); !errors.Is(err, context.Canceled) {
				t.Fatalf("got %v, want context.Canceled", err)
			}
		})
	}
}

func TestFitErrors(t *testing.T) {
	d := planted()
	tests := []struct {
		learner string
		data    *learn.Interactions
		params  learn.Params
		want    error
	}{
		{learn.KindPopularity, learn.NewInteractions(), nil, learn.ErrNoData},
		{learn.KindMF, nil, nil, learn.ErrNoData},
		{learn.KindImplicitALS, learn.NewInteractions(), nil, learn.ErrNoData},
		{learn.KindPopularity, d, learn.Params{"min_count": "0"}, learn.ErrInvalidParam},
		{learn.KindPopularity, d, learn.Params{"by": "votes"}, learn.ErrInvalidParam},
		{learn.KindMF, d, learn.Params{"factors": "eight"}, learn.ErrInvalidParam},
		{learn.KindMF, d, learn.Params{"lambda": "-1"}, learn.ErrInvalidParam},
		{learn.KindMF, d, learn.Params{"learning_rate": "0.1"}, learn.ErrInvalidParam},
		{learn.KindImplicitALS, d, learn.Params{"alpha": "NaN"}, learn.ErrInvalidParam},
		{learn.KindImplicitALS, d, learn.Params{"binary": "maybe"}, learn.ErrInvalidParam},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.learner, tt.params), func(t *testing.T) {
			l, _ := learn.LearnerByName(tt.learner)
			if _, err := l.Fit(context.Background(), tt.data, tt.params); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := learn.LearnerByName("svd++"); !errors.Is(err, learn.ErrInvalidParam) {
		t.Errorf("LearnerByName(svd++) = %v, want ErrInvalidParam", err)
	}
}

func TestParamsApplied(t *testing.T) {
	o, err := learn.ParseMFOptions(learn.Params{"factors": "3", "early_stopping": "false", "popularity_weight": "0", "seed": "9"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Factors != 3 || !o.NoEarlyStopping || !o.NoPopularityBlend || o.Seed != 9 || o.Lambda != 0.25 {
		t.Errorf("got %+v", o)
	}
	io, err := learn.ParseImplicitALSOptions(learn.Params{"alpha": "4", "binary": "true"})
	if err != nil {
		t.Fatal(err)
	}
	if io.Alpha != 4 || !io.Binary || io.Factors != 32 {
		t.Errorf("got %+v", io)
	}
}

func TestModelRoundTrip(t *testing.T) {
	d := planted()
	for name, m := range fitAll(t, d) {
		t.Run(name, func(t *testing.T) {
			b, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			got, err := learn.UnmarshalModel(b)
			if err != nil {
				t.Fatal(err)
			}
			if reflect.TypeOf(got) != reflect.TypeOf(m) {
				t.Fatalf("decoded %T, want %T", got, m)
			}
			for _, user := range append(d.Users.IDs(), "stranger") {
				if a, b := m.Recommend(user, 5, true), got.Recommend(user, 5, true); !reflect.DeepEqual(a, b) {
					t.Fatalf("%s: Recommend differs after round trip: %v vs %v", user, a, b)
				}
				for _, item := range []string{"a1", "b1", "f1", "nope"} {
					s1, c1 := m.Predict(user, item)
					s2, c2 := got.Predict(user, item)
					if s1 != s2 || c1 != c2 {
						t.Fatalf("Predict(%s, %s) differs: %v,%v vs %v,%v", user, item, s1, c1, s2, c2)
					}
				}
			}
			for n := 0; n < len(b); n += 1 + len(b)/97 {
				if _, err := learn.UnmarshalModel(b[:n]); !errors.Is(err, learn.ErrBadModel) {
					t.Fatalf("truncated to %d bytes: got %v, want ErrBadModel", n, err)
				}
			}
			if _, err := learn.UnmarshalModel(append(b, 0)); !errors.Is(err, learn.ErrBadModel) {
				t.Errorf("trailing byte: got %v, want ErrBadModel", err)
			}
		})
	}
	mf, _ := learn.MF{}.Fit(context.Background(), d, nil)
	b, _ := mf.MarshalBinary()
	if err := (&learn.PopularityModel{}).UnmarshalBinary(b); !errors.Is(err, learn.ErrBadModel) {
		t.Errorf("mf bytes into a popularity model: got %v, want ErrBadModel", err)
	}
}

func FuzzUnmarshalModel(f *testing.F) {
	d := planted()
	for _, name := range learn.Learners() {
		l, _ := learn.LearnerByName(name)
		m, err := l.Fit(context.Background(), d, learn.Params{})
		if err != nil {
			f.Fatal(err)
		}
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte("LOOPMLRS"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := learn.UnmarshalModel(b)
		if err != nil {
			if !errors.Is(err, learn.ErrBadModel) {
				t.Fatalf("error %v does not wrap ErrBadModel", err)
			}
			return
		}
		// A decoded model must answer without panicking.
		m.Recommend("a-user0", 3, true)
		m.Recommend("stranger", 3, true)
		m.Predict("a-user0", "a1")
	})
}

func TestOptionsParamsRoundTrip(t *testing.T) {
	pop := learn.PopularityOptions{MinCount: 3, MinRating: 4, Since: 10, By: "count"}
	if got, err := learn.ParsePopularityOptions(pop.Params()); err != nil || got != mustPop(pop) {
		t.Errorf("popularity: got %+v, %v", got, err)
	}
	mf := learn.MFOptions{Factors: 5, NoRefit: true, NoPopularityBlend: true, Seed: 3}
	if got, err := learn.ParseMFOptions(mf.Params()); err != nil || got != mustMF(mf) {
		t.Errorf("mf: got %+v, %v; want %+v", got, err, mustMF(mf))
	}
	ials := learn.ImplicitALSOptions{Alpha: 7, Binary: true}
	if got, err := learn.ParseImplicitALSOptions(ials.Params()); err != nil || got != mustIALS(ials) {
		t.Errorf("implicit-als: got %+v, %v", got, err)
	}
}

// mustPop, mustMF and mustIALS return the defaults (parsed from empty
// Params) with the fields the test sets overridden.
func mustPop(o learn.PopularityOptions) learn.PopularityOptions {
	def, _ := learn.ParsePopularityOptions(nil)
	def.MinCount, def.MinRating, def.Since, def.By = o.MinCount, o.MinRating, o.Since, o.By
	return def
}

func mustMF(o learn.MFOptions) learn.MFOptions {
	def, _ := learn.ParseMFOptions(nil)
	def.Factors, def.NoRefit, def.NoPopularityBlend, def.Seed = o.Factors, o.NoRefit, o.NoPopularityBlend, o.Seed
	return def
}

func mustIALS(o learn.ImplicitALSOptions) learn.ImplicitALSOptions {
	def, _ := learn.ParseImplicitALSOptions(nil)
	def.Alpha, def.Binary = o.Alpha, o.Binary
	return def
}

func TestConcurrentUse(t *testing.T) {
	d := planted()
	for name, m := range fitAll(t, d) {
		t.Run(name, func(t *testing.T) {
			want := m.Recommend("a-user0", 5, true)
			done := make(chan []learn.Scored)
			for g := 0; g < 4; g++ {
				go func() {
					var last []learn.Scored
					for n := 0; n < 50; n++ {
						last = m.Recommend("a-user0", 5, true)
						m.Recommend("b-user30", 5, false)
						m.Predict("a-user0", "a1")
					}
					done <- last
				}()
			}
			for g := 0; g < 4; g++ {
				if got := <-done; !reflect.DeepEqual(got, want) {
					t.Errorf("concurrent Recommend = %v, want %v", got, want)
				}
			}
		})
	}
}

func TestDedup(t *testing.T) {
	d := learn.NewInteractions()
	d.Add("u", "i", 1, 1)
	d.Add("u", "i", 3, 2)
	if err := d.Dedup(learn.DuplicateError); !errors.Is(err, learn.ErrDuplicate) || !strings.Contains(err.Error(), "lines 1 and 2") {
		t.Fatalf("got %v, want ErrDuplicate naming rows 1 and 2", err)
	}
	if err := d.Dedup(learn.DuplicateMean); err != nil || len(d.Rows) != 1 || d.Rows[0].Rating != 2 || d.Rows[0].Time != 2 {
		t.Fatalf("mean: %v, rows %+v", err, d.Rows)
	}
}
