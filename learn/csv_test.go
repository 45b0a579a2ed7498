package learn_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/loopml/loopml/learn"
)

func TestLoadCSV(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		opts  learn.CSVOptions
		users int
		items int
		rows  []learn.Interaction
	}{
		{
			name:  "movielens",
			in:    "userId,movieId,rating,timestamp\n1,10,4.0,100\n1,20,3.5,200\n2,10,5,300\n",
			users: 2, items: 2,
			rows: []learn.Interaction{{0, 0, 4, 100}, {0, 1, 3.5, 200}, {1, 0, 5, 300}},
		},
		{
			name:  "snake case, reordered, extra column, BOM",
			in:    "\ufefftimestamp,item_id,extra,user_id,rating\n7,a,x,u1,2\n",
			users: 1, items: 1,
			rows: []learn.Interaction{{0, 0, 2, 7}},
		},
		{
			name:  "caller mapping and separator",
			in:    "who;what;stars\nu;i;1.5\n",
			opts:  learn.CSVOptions{UserColumn: "who", ItemColumn: "what", RatingColumn: "stars", Comma: ';'},
			users: 1, items: 1,
			rows: []learn.Interaction{{0, 0, 1.5, 0}},
		},
		{
			name:  "implicit without rating, RFC 3339 time",
			in:    "user,item,time\nu,i,1970-01-01T00:01:00Z\n",
			users: 1, items: 1,
			rows: []learn.Interaction{{0, 0, 1, 60}},
		},
		{
			name:  "duplicates keep last by default",
			in:    "user,item,rating,ts\nu,i,1,1\nu,j,2,2\nu,i,5,3\n",
			users: 1, items: 2,
			rows: []learn.Interaction{{0, 0, 5, 3}, {0, 1, 2, 2}},
		},
		{
			name:  "duplicates mean",
			in:    "user,item,rating,ts\nu,i,1,1\nu,i,2,5\nu,i,4,3\n",
			opts:  learn.CSVOptions{Duplicates: learn.DuplicateMean},
			users: 1, items: 1,
			rows: []learn.Interaction{{0, 0, 7.0 / 3, 5}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := learn.LoadCSV(context.Background(), strings.NewReader(tt.in), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if d.Users.Len() != tt.users || d.Items.Len() != tt.items {
				t.Errorf("got %d users %d items, want %d %d", d.Users.Len(), d.Items.Len(), tt.users, tt.items)
			}
			if len(d.Rows) != len(tt.rows) {
				t.Fatalf("got %d rows, want %d", len(d.Rows), len(tt.rows))
			}
			for i, r := range d.Rows {
				w := tt.rows[i]
				if r.User != w.User || r.Item != w.Item || r.Time != w.Time || math.Abs(float64(r.Rating-w.Rating)) > 1e-6 {
					t.Errorf("row %d: got %+v, want %+v", i, r, w)
				}
			}
		})
	}
}

func TestLoadCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts learn.CSVOptions
		want error
		msg  string // substring the message must hold
	}{
		{"empty file", "", learn.CSVOptions{}, learn.ErrNoData, "empty"},
		{"header only", "userId,movieId,rating\n", learn.CSVOptions{}, learn.ErrNoData, "no rows"},
		{"no user column", "customer,movieId,rating\n1,2,3\n", learn.CSVOptions{}, learn.ErrUnknownColumn, "no user column"},
		{"no item column", "userId,thing,rating\n1,2,3\n", learn.CSVOptions{}, learn.ErrUnknownColumn, "no item column"},
		{"named column absent", "userId,movieId,rating\n1,2,3\n", learn.CSVOptions{RatingColumn: "stars"}, learn.ErrUnknownColumn, `rating column "stars"`},
		{"non-numeric rating", "userId,movieId,rating\n1,2,3\n1,3,good\n", learn.CSVOptions{}, learn.ErrBadValue, "line 3"},
		{"NaN rating", "userId,movieId,rating\n1,2,NaN\n", learn.CSVOptions{}, learn.ErrBadValue, "line 2"},
		{"Inf rating", "userId,movieId,rating\n1,2,3\n1,3,4\n1,4,+Inf\n", learn.CSVOptions{}, learn.ErrBadValue, "line 4"},
		{"bad time", "userId,movieId,rating,timestamp\n1,2,3,yesterday\n", learn.CSVOptions{}, learn.ErrBadValue, `column "timestamp"`},
		{"short row", "userId,movieId,rating\n1,2\n", learn.CSVOptions{}, learn.ErrBadValue, "line 2"},
		{"empty user", "userId,movieId,rating\n,2,3\n", learn.CSVOptions{}, learn.ErrBadValue, "empty user"},
		{"duplicate error", "userId,movieId,rating\n1,2,3\n1,3,3\n1,2,4\n", learn.CSVOptions{Duplicates: learn.DuplicateError}, learn.ErrDuplicate, "lines 2 and 4"},
		{"bad policy", "userId,movieId,rating\n1,2,3\n", learn.CSVOptions{Duplicates: "first"}, learn.ErrInvalidParam, "first"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := learn.LoadCSV(context.Background(), strings.NewReader(tt.in), tt.opts)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err, tt.msg)
			}
		})
	}
}

func TestLoadCSVCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := learn.LoadCSV(ctx, strings.NewReader("u,i\n1,2\n"), learn.CSVOptions{UserColumn: "u", ItemColumn: "i"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func FuzzLoadCSV(f *testing.F) {
	f.Add("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
	f.Add("user_id,item_id\na,b\n")
	f.Add("user,item,rating\nu,i,1e400\n")
	f.Add("user,item,time\nu,i,2020-01-01T00:00:00Z\n\"x")
	f.Fuzz(func(t *testing.T, in string) {
		d, err := learn.LoadCSV(context.Background(), strings.NewReader(in), learn.CSVOptions{})
		if err != nil {
			return
		}
		if len(d.Rows) == 0 {
			t.Fatal("success with no rows")
		}
		for _, r := range d.Rows {
			if math.IsNaN(float64(r.Rating)) || math.IsInf(float64(r.Rating), 0) {
				t.Fatalf("non-finite rating %v", r.Rating)
			}
			if int(r.User) >= d.Users.Len() || int(r.Item) >= d.Items.Len() {
				t.Fatalf("index out of range: %+v", r)
			}
		}
	})
}
