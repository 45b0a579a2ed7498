package learn_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/loopml/loopml/learn"
)

// grid returns users×items interactions with time = user*1000 + item.
func grid(users, items int) *learn.Interactions {
	d := learn.NewInteractions()
	for u := 0; u < users; u++ {
		for i := 0; i < items; i++ {
			d.Add(fmt.Sprint("u", u), fmt.Sprint("i", i), float32(1+(u+i)%5), int64(u*1000+i))
		}
	}
	return d
}

func TestSplitRandom(t *testing.T) {
	d := grid(10, 10)
	tr, te, err := learn.Split(d, learn.SplitOptions{Method: learn.SplitRandom, TestFraction: 0.25, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Rows) != 75 || len(te.Rows) != 25 {
		t.Fatalf("got %d/%d rows, want 75/25", len(tr.Rows), len(te.Rows))
	}
	if tr.Users != d.Users || te.Items != d.Items {
		t.Error("splits do not share the parent's id maps")
	}
	_, te2, _ := learn.Split(d, learn.SplitOptions{Method: learn.SplitRandom, TestFraction: 0.25, Seed: 7})
	if !slices.Equal(te.Rows, te2.Rows) {
		t.Error("same seed gave different test rows")
	}
	_, te3, _ := learn.Split(d, learn.SplitOptions{Method: learn.SplitRandom, TestFraction: 0.25, Seed: 8})
	if slices.Equal(te.Rows, te3.Rows) {
		t.Error("different seeds gave the same test rows")
	}
}

func TestSplitUserTime(t *testing.T) {
	d := grid(4, 10)
	d.Add("solo", "i0", 3, 1) // one row: stays in train
	tr, te, err := learn.Split(d, learn.SplitOptions{Method: learn.SplitUserTime, TestFraction: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if len(te.Rows) != 8 {
		t.Fatalf("got %d test rows, want 8 (2 of 10 per user)", len(te.Rows))
	}
	latestTrain := map[int32]int64{}
	for _, r := range tr.Rows {
		latestTrain[r.User] = max(latestTrain[r.User], r.Time)
	}
	for _, r := range te.Rows {
		if r.Time <= latestTrain[r.User] {
			t.Errorf("test row %+v is not after the user's training rows (latest %d)", r, latestTrain[r.User])
		}
		if d.Users.ID(r.User) == "solo" {
			t.Error("a user's only row went to test")
		}
	}
}

func TestSplitTime(t *testing.T) {
	d := grid(5, 10) // times 0..4009
	tr, te, err := learn.Split(d, learn.SplitOptions{Method: learn.SplitTime, Cut: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Rows) != 30 || len(te.Rows) != 20 {
		t.Fatalf("cut 3000: got %d/%d, want 30/20", len(tr.Rows), len(te.Rows))
	}
	tr, te, err = learn.Split(d, learn.SplitOptions{Method: learn.SplitTime, TestFraction: 0.4})
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Rows) != 30 || len(te.Rows) != 20 {
		t.Fatalf("fraction 0.4: got %d/%d, want 30/20", len(tr.Rows), len(te.Rows))
	}
}

func TestSplitErrors(t *testing.T) {
	tests := []struct {
		name string
		d    *learn.Interactions
		o    learn.SplitOptions
		want error
	}{
		{"empty", learn.NewInteractions(), learn.SplitOptions{}, learn.ErrNoData},
		{"fraction 1", grid(2, 2), learn.SplitOptions{TestFraction: 1}, learn.ErrInvalidParam},
		{"negative fraction", grid(2, 2), learn.SplitOptions{TestFraction: -0.1}, learn.ErrInvalidParam},
		{"unknown method", grid(2, 2), learn.SplitOptions{Method: "k-fold"}, learn.ErrInvalidParam},
		{"cut after all rows", grid(2, 2), learn.SplitOptions{Method: learn.SplitTime, Cut: 1 << 40}, learn.ErrNoData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := learn.Split(tt.d, tt.o); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}
