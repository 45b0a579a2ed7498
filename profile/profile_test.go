package profile_test

import (
	"math"
	"slices"
	"testing"

	"github.com/loopml/loopml/profile"
)

// one profiles a single column with the given cells.
func one(t *testing.T, name string, cells ...string) (profile.ColumnSummary, *profile.Profile) {
	t.Helper()
	p := profile.New(profile.Config{})
	p.SetColumns([]string{name})
	for _, c := range cells {
		p.Add([]string{c})
	}
	s, ok := p.Column(name)
	if !ok {
		t.Fatalf("column %q missing", name)
	}
	return s, p
}

func TestInferType(t *testing.T) {
	tests := []struct {
		name     string
		col      string
		cells    []string
		typ      profile.Type
		unit     string
		kind     profile.Kind
		nullable bool
		possCat  bool
	}{
		{"integers", "x", []string{"1", "-2", "+3", "40"}, profile.TypeInteger, "", profile.KindNumeric, false, true},
		{"int widens to float", "x", []string{"1", "2.5", "3"}, profile.TypeFloat, "", profile.KindNumeric, false, true},
		{"exponent float", "x", []string{"1e3", "2E-2"}, profile.TypeFloat, "", profile.KindNumeric, false, true},
		{"float widens to string", "x", []string{"1", "2.5", "abc"}, profile.TypeString, "", profile.KindCategorical, false, false},
		{"missing markers", "x", []string{"1", "", "NA", "null", "None", " ", "NaN"}, profile.TypeInteger, "", profile.KindNumeric, true, true},
		{"all missing", "x", []string{"", "NA"}, profile.TypeNull, "", profile.KindNone, true, false},
		{"booleans", "x", []string{"true", "False", "TRUE"}, profile.TypeBoolean, "", profile.KindCategorical, false, false},
		{"0/1 are integers", "x", []string{"0", "1"}, profile.TypeInteger, "", profile.KindNumeric, false, true},
		{"boolean and int", "x", []string{"true", "1"}, profile.TypeString, "", profile.KindCategorical, false, false},
		{"iso dates", "x", []string{"2024-01-02", "2024-02-29T10:00:00Z", "2024-03-01 12:30:00", "2024-03-01T12:30:00.5+02:00"},
			profile.TypeTimestamp, "iso8601", profile.KindNumeric, false, false},
		{"bad date is a string", "x", []string{"2024-13-45"}, profile.TypeString, "", profile.KindCategorical, false, false},
		{"epoch seconds by name", "created_at", []string{"1700000000", "1700000100"}, profile.TypeTimestamp, "epoch_s", profile.KindNumeric, false, false},
		{"epoch ms by name", "event_time", []string{"1700000000000", "1700000100000"}, profile.TypeTimestamp, "epoch_ms", profile.KindNumeric, false, false},
		{"epoch-like values without a time name", "count", []string{"1700000000", "1700000100"}, profile.TypeInteger, "", profile.KindNumeric, false, true},
		{"time name with small values", "time_ms", []string{"12", "15"}, profile.TypeInteger, "", profile.KindNumeric, false, true},
		{"infinity and hex are strings", "x", []string{"Inf", "0x1p3"}, profile.TypeString, "", profile.KindCategorical, false, false},
		{"19-digit integer is a float", "x", []string{"1234567890123456789"}, profile.TypeFloat, "", profile.KindNumeric, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := one(t, tt.col, tt.cells...)
			got := []any{s.Type, s.Unit, s.Kind, s.Nullable, s.PossiblyCategorical}
			want := []any{tt.typ, tt.unit, tt.kind, tt.nullable, tt.possCat}
			if !slices.Equal(got, want) {
				t.Errorf("type, unit, kind, nullable, possibly categorical = %v, want %v", got, want)
			}
		})
	}
}

func TestPossiblyCategoricalRule(t *testing.T) {
	var few, many []string
	for i := range 1000 {
		few = append(few, []string{"1", "2", "3", "4", "5"}[i%5])
		many = append(many, itoa(i))
	}
	if s, _ := one(t, "rating", few...); !s.PossiblyCategorical {
		t.Errorf("5 distinct values in 1000: PossiblyCategorical = false, want true")
	}
	if s, _ := one(t, "id", many...); s.PossiblyCategorical {
		t.Errorf("1000 distinct values in 1000: PossiblyCategorical = true, want false")
	}
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestStatistics(t *testing.T) {
	s, _ := one(t, "x", "1", "2", "3", "4", "", "NA", "10", "4")
	if s.Count != 6 || s.Missing != 2 {
		t.Errorf("count/missing = %d/%d, want 6/2", s.Count, s.Missing)
	}
	if s.Distinct != 5 || !s.DistinctExact {
		t.Errorf("distinct = %d (exact %v), want 5 exact", s.Distinct, s.DistinctExact)
	}
	n := s.Numeric
	// values 1 2 3 4 4 10: mean 4, population variance (9+4+1+0+0+36)/6 = 50/6
	if n.Min != 1 || n.Max != 10 || n.Mean != 4 || math.Abs(n.Stddev-math.Sqrt(50.0/6)) > 1e-12 {
		t.Errorf("min/max/mean/stddev = %v/%v/%v/%v, want 1/10/4/%v", n.Min, n.Max, n.Mean, n.Stddev, math.Sqrt(50.0/6))
	}
	// numpy.quantile([1,2,3,4,4,10], [.01,.05,.25,.5,.75,.95,.99])
	want := []float64{1.05, 1.25, 2.25, 3.5, 4, 8.5, 9.7}
	for i, q := range n.Quantiles {
		if math.Abs(q.Value-want[i]) > 1e-12 {
			t.Errorf("quantile %v = %v, want %v", q.P, q.Value, want[i])
		}
	}
	if s.Length.Min != 1 || s.Length.Max != 2 || math.Abs(s.Length.Mean-7.0/6) > 1e-12 {
		t.Errorf("length = %+v, want 1..2 mean 7/6", *s.Length)
	}
	if s.Top[0] != (profile.ValueCount{Value: "4", Count: 2}) || !s.TopExact {
		t.Errorf("top = %v, want 4 (2) first, exact", s.Top)
	}
	// Five distinct values ≤ 10 bins: one bin [u, u⁺) per value.
	h := n.Histogram
	if len(h.Edges) != 10 || h.Estimated || h.Fixed {
		t.Fatalf("histogram edges = %v (estimated %v)", h.Edges, h.Estimated)
	}
	wantCounts := []int64{0, 1, 0, 1, 0, 1, 0, 2, 0, 1, 0}
	if !slices.Equal(h.Counts, wantCounts) {
		t.Errorf("histogram counts = %v, want %v", h.Counts, wantCounts)
	}
}

func TestFixedEdgesAndEdgesOf(t *testing.T) {
	ref := profile.New(profile.Config{Bins: 4})
	ref.SetColumns([]string{"v"})
	for i := range 100 {
		ref.Add([]string{itoa(i)})
	}
	edges := profile.EdgesOf(ref)
	// numpy.quantile(range(100), [.25, .5, .75])
	if want := []float64{24.75, 49.5, 74.25}; !slices.Equal(edges["v"], want) {
		t.Fatalf("EdgesOf = %v, want %v", edges["v"], want)
	}
	cur := profile.New(profile.Config{Edges: edges})
	cur.SetColumns([]string{"v"})
	for _, v := range []string{"-5", "0", "24.75", "50", "99", "1000"} {
		cur.Add([]string{v})
	}
	s, _ := cur.Column("v")
	h := s.Numeric.Histogram
	if !h.Fixed || !slices.Equal(h.Counts, []int64{2, 1, 1, 2}) {
		t.Errorf("histogram = %+v, want fixed counts [2 1 1 2]", h)
	}
	other := profile.New(profile.Config{Edges: map[string][]float64{"v": {1, 2}}})
	other.SetColumns([]string{"v"})
	other.Add([]string{"1"})
	if err := cur.Merge(other); err == nil {
		t.Errorf("merging histograms on different edges: got nil error")
	}
	if err := (profile.Config{Edges: map[string][]float64{"v": {2, 1}}}).Validate(); err == nil {
		t.Errorf("Validate of decreasing edges: got nil error")
	}
}

func TestHeavyHittersBound(t *testing.T) {
	p := profile.New(profile.Config{ExactLimit: 10, Counters: 4})
	p.SetColumns([]string{"c"})
	var cells []string
	for i := range 1000 {
		switch {
		case i%2 == 0:
			cells = append(cells, "hot")
		case i%5 == 0:
			cells = append(cells, "warm")
		default:
			cells = append(cells, "u"+itoa(i))
		}
	}
	for _, c := range cells {
		p.Add([]string{c})
	}
	s, _ := p.Column("c")
	if s.TopExact {
		t.Fatal("TopExact = true after 400+ distinct values with ExactLimit 10")
	}
	if bound := int64(1000 / 5); s.ErrorBound > bound {
		t.Errorf("error bound %d > N/(k+1) = %d", s.ErrorBound, bound)
	}
	if s.Top[0].Value != "hot" || s.Top[0].Count > 500 || s.Top[0].Count < 500-s.ErrorBound {
		t.Errorf("top = %v, want hot with count in [%d, 500]", s.Top[0], 500-s.ErrorBound)
	}
	if s.DistinctExact || math.Abs(float64(s.Distinct)-402) > 10 {
		t.Errorf("distinct = %d (exact %v), want about 402 estimated", s.Distinct, s.DistinctExact)
	}
}

func TestMissingColumnsAcrossMerge(t *testing.T) {
	a := profile.New(profile.Config{})
	a.SetColumns([]string{"x"})
	a.Add([]string{"1"})
	a.Add([]string{"2"})
	b := profile.New(profile.Config{})
	b.SetColumns([]string{"x", "y"})
	b.Add([]string{"3", "hello"})
	if err := a.Merge(b); err != nil {
		t.Fatal(err)
	}
	y, _ := a.Column("y")
	if a.Rows() != 3 || y.Count != 1 || y.Missing != 2 || !y.Nullable {
		t.Errorf("rows %d, y count/missing/nullable = %d/%d/%v, want 3, 1/2/true", a.Rows(), y.Count, y.Missing, y.Nullable)
	}
	if got := a.Names(); !slices.Equal(got, []string{"x", "y"}) {
		t.Errorf("names = %v", got)
	}
}

func TestSchemaUnify(t *testing.T) {
	a := profile.Schema{Fields: []profile.Field{
		{Name: "n", Type: profile.TypeInteger, Kind: profile.KindNumeric},
		{Name: "s", Type: profile.TypeBoolean, Kind: profile.KindCategorical},
		{Name: "only_a", Type: profile.TypeFloat, Kind: profile.KindNumeric},
	}}
	b := profile.Schema{Fields: []profile.Field{
		{Name: "n", Type: profile.TypeFloat, Kind: profile.KindNumeric, Nullable: true},
		{Name: "s", Type: profile.TypeInteger, Kind: profile.KindNumeric},
		{Name: "only_b", Type: profile.TypeNull, Kind: profile.KindNone},
	}}
	got := a.Unify(b)
	want := []profile.Field{
		{Name: "n", Type: profile.TypeFloat, Kind: profile.KindNumeric, Nullable: true},
		{Name: "s", Type: profile.TypeString, Kind: profile.KindCategorical},
		{Name: "only_a", Type: profile.TypeFloat, Kind: profile.KindNumeric, Nullable: true},
		{Name: "only_b", Type: profile.TypeNull, Kind: profile.KindNone, Nullable: true},
	}
	if !slices.Equal(got.Fields, want) {
		t.Errorf("Unify = %+v\nwant %+v", got.Fields, want)
	}
}
