package learn

import (
	"context"
	"fmt"
	"sort"
)

// PopularityOptions configures the popularity learner. The zero value
// ranks by Bayesian-average rating with the defaults below.
//
// Params keys: min_count, prior_count, min_rating, since, until, by.
type PopularityOptions struct {
	// MinCount is the fewest counted interactions an item needs to be
	// recommended (default 10).
	MinCount int `json:"min_count"`
	// PriorCount is the weight C of the global mean m in the Bayesian
	// average (C·m + Σr) / (C + n) (default 10).
	PriorCount float64 `json:"prior_count"`
	// MinRating, when > 0, counts only interactions rated at least this.
	MinRating float64 `json:"min_rating"`
	// Since and Until, when non-zero, count only interactions with
	// Since <= time < Until (Unix seconds).
	Since int64 `json:"since"`
	Until int64 `json:"until"`
	// By is "rating" (Bayesian average, the default) or "count" (number of
	// counted interactions, for implicit feedback).
	By string `json:"by"`
}

func (o PopularityOptions) withDefaults() PopularityOptions {
	if o.MinCount == 0 {
		o.MinCount = 10
	}
	if o.PriorCount == 0 {
		o.PriorCount = 10
	}
	if o.By == "" {
		o.By = "rating"
	}
	return o
}

// ParsePopularityOptions reads PopularityOptions from params.
func ParsePopularityOptions(p Params) (PopularityOptions, error) {
	var o PopularityOptions
	r := newParams(p)
	r.int("min_count", &o.MinCount, 1, 1<<30)
	r.float("prior_count", &o.PriorCount, 0, 1e9)
	r.float("min_rating", &o.MinRating, -1e9, 1e9)
	r.int64("since", &o.Since)
	r.int64("until", &o.Until)
	r.used["by"] = true
	if v, ok := p["by"]; ok {
		if v != "rating" && v != "count" {
			r.setErr("by", v, "rating or count")
		}
		o.By = v
	}
	return o.withDefaults(), r.done(KindPopularity)
}

// Popularity is the learner that recommends the same top items to everyone
// (minus what each user has seen). Fit memory is O(users + items + rows)
// words on top of the input: about 16·items + 12·rows + 8·users bytes.
type Popularity struct {
	// Options are used by Fit when params is nil or empty.
	Options PopularityOptions
}

// Name returns "popularity".
func (Popularity) Name() string { return KindPopularity }

// Fit trains a *PopularityModel. params, when non-empty, replace Options.
func (l Popularity) Fit(ctx context.Context, data *Interactions, params Params) (Model, error) {
	o := l.Options.withDefaults()
	if len(params) > 0 {
		var err error
		if o, err = ParsePopularityOptions(params); err != nil {
			return nil, err
		}
	}
	return FitPopularity(ctx, data, o)
}

// PopularityModel is a trained popularity ranking.
type PopularityModel struct {
	base
	mean float64 // global mean of counted ratings
}

// FitPopularity trains a popularity model with o (zero fields take defaults).
func FitPopularity(ctx context.Context, data *Interactions, o PopularityOptions) (*PopularityModel, error) {
	if data == nil || len(data.Rows) == 0 {
		return nil, fmt.Errorf("%s: %w", KindPopularity, ErrNoData)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	if o.By != "rating" && o.By != "count" {
		return nil, fmt.Errorf("%s: by %q: want rating or count: %w", KindPopularity, o.By, ErrInvalidParam)
	}
	rows, users, items := compact(data)
	m := &PopularityModel{base: newBase(rows, users, items, nil)}
	m.popOrder, m.popScore, m.mean = popularity(rows, len(items), o)
	return m, nil
}

// popularity computes item scores and the recommendable order.
func popularity(rows []Interaction, nItems int, o PopularityOptions) (order []int32, score []float64, mean float64) {
	o = o.withDefaults()
	sum := make([]float64, nItems)
	cnt := make([]float64, nItems)
	var total, n float64
	for _, r := range rows {
		if o.MinRating > 0 && float64(r.Rating) < o.MinRating {
			continue
		}
		if (o.Since != 0 && r.Time < o.Since) || (o.Until != 0 && r.Time >= o.Until) {
			continue
		}
		sum[r.Item] += float64(r.Rating)
		cnt[r.Item]++
		total += float64(r.Rating)
		n++
	}
	if n > 0 {
		mean = total / n
	}
	score = make([]float64, nItems)
	for i := range score {
		if o.By == "count" {
			score[i] = cnt[i]
		} else {
			score[i] = (o.PriorCount*mean + sum[i]) / (o.PriorCount + cnt[i])
		}
		if cnt[i] >= float64(o.MinCount) {
			order = append(order, int32(i))
		}
	}
	sort.SliceStable(order, func(a, b int) bool {
		x, y := order[a], order[b]
		if score[x] != score[y] {
			return score[x] > score[y]
		}
		return cnt[x] > cnt[y]
	})
	return order, score, mean
}

// Predict returns the item's popularity score (the Bayesian-average rating,
// or the count when trained with By "count"); coldStart reports an unknown
// user or item, whose score is the global mean (or 0 by count).
func (m *PopularityModel) Predict(user, item string) (float64, bool) {
	_, uok := m.users.Index(user)
	i, iok := m.items.Index(item)
	if !iok {
		return m.mean, true
	}
	return m.popScore[i], !uok
}

// Recommend returns the top k popular items the user has not seen (when
// excludeSeen is set).
func (m *PopularityModel) Recommend(user string, k int, excludeSeen bool) []Scored {
	u, ok := m.users.Index(user)
	if !ok {
		return m.coldList(k)
	}
	out := make([]Scored, 0, max(0, min(k, len(m.popOrder))))
	var seen []int32
	if excludeSeen {
		seen = m.seen(u)
	}
	for _, i := range m.popOrder {
		if len(out) >= k {
			break
		}
		if j := sort.Search(len(seen), func(j int) bool { return seen[j] >= i }); j < len(seen) && seen[j] == i {
			continue
		}
		out = append(out, Scored{Item: m.itemIDs[i], Score: m.popScore[i]})
	}
	return out
}

// MarshalBinary encodes the model.
func (m *PopularityModel) MarshalBinary() ([]byte, error) {
	e := &encoder{}
	e.header(KindPopularity)
	m.base.encode(e)
	e.f64(m.mean)
	return e.b, nil
}

// UnmarshalBinary decodes a model written by MarshalBinary.
func (m *PopularityModel) UnmarshalBinary(b []byte) error {
	kind, d := readHeader(b)
	if d.err == nil && kind != KindPopularity {
		d.fail("kind %q, want %q", kind, KindPopularity)
	}
	var nm PopularityModel
	nm.base.decode(d)
	nm.mean = d.f64()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return d.err
	}
	*m = nm
	return nil
}
