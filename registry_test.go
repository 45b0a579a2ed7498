package loopml_test

import (
	"context"
	"strings"
	"testing"

	"github.com/loopml/loopml"
)

func TestValidateAlias(t *testing.T) {
	tests := []struct {
		alias string
		ok    bool
		msg   string
	}{
		{"champion", true, ""},
		{"prod-1", true, ""},
		{"v3a", true, ""},
		{"vv3", true, ""},
		{"v", true, ""},
		{"Champion_2", true, ""},
		{strings.Repeat("a", loopml.MaxKeyLength), true, ""},
		{"", false, "alias"},
		{"latest", false, "reserved"},
		{"LATEST", false, "reserved"},
		{"Latest", false, "reserved"},
		{"3", false, "reserved"},
		{"v3", false, "reserved"},
		{"V12", false, "reserved"},
		{"007", false, "reserved"},
		{strings.Repeat("a", loopml.MaxKeyLength+1), false, "length limit"},
		{"a/b", false, "not allowed"},
		{"a@b", false, "not allowed"},
		{"a\nb", false, "not allowed"},
	}
	for _, tc := range tests {
		err := loopml.ValidateAlias(tc.alias)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidateAlias(%q) = %v, want nil", tc.alias, err)
			}
			continue
		}
		if loopml.ErrorCode(err) != loopml.EINVALID || !strings.Contains(loopml.ErrorMessage(err), tc.msg) {
			t.Errorf("ValidateAlias(%q) = %v, want EINVALID containing %q", tc.alias, err, tc.msg)
		}
	}
}

func TestAliasAt(t *testing.T) {
	set := func(id, tm int64, alias, from, to string) loopml.RegistryEvent {
		return loopml.RegistryEvent{ID: id, Time: tm, Type: loopml.EventAliasSet, Model: "m", Alias: alias, FromVersion: from, ToVersion: to}
	}
	events := []loopml.RegistryEvent{
		{ID: 1, Time: 100, Type: loopml.EventModelCreated, Model: "m"},
		set(2, 200, "champion", "", "1"),
		set(3, 250, "challenger", "", "2"),
		set(4, 300, "champion", "1", "2"),
		{ID: 5, Time: 350, Type: loopml.EventModelRenamed, Model: "m2"},
		{ID: 6, Time: 400, Type: loopml.EventAliasDeleted, Model: "m2", Alias: "champion", FromVersion: "2"},
		{ID: 7, Time: 400, Type: loopml.EventStageTransition, Model: "m2", Version: "3", FromStage: "None", ToStage: "Production"},
		set(8, 500, "champion", "", "3"),
		set(9, 500, "champion", "3", "4"), // same millisecond: the later id wins
	}
	tests := []struct {
		alias string
		t     int64
		want  string
	}{
		{"champion", 0, ""},
		{"champion", 199, ""},
		{"champion", 200, "1"},
		{"champion", 299, "1"},
		{"champion", 300, "2"},
		{"champion", 350, "2"}, // a rename does not move it
		{"champion", 400, ""},
		{"champion", 499, ""},
		{"champion", 500, "4"},
		{"champion", 1 << 62, "4"},
		{"challenger", 260, "2"},
		{"challenger", 1 << 62, "2"},
		{"nobody", 1 << 62, ""},
	}
	for _, tc := range tests {
		if got := loopml.AliasAt(events, tc.alias, tc.t); got != tc.want {
			t.Errorf("AliasAt(%s, %d) = %q, want %q", tc.alias, tc.t, got, tc.want)
		}
	}
	if got := loopml.AliasAt(nil, "champion", 1); got != "" {
		t.Errorf("AliasAt(nil) = %q", got)
	}
}

func TestParseModelURI(t *testing.T) {
	tests := []struct {
		in   string
		want loopml.ModelURI
		str  string
	}{
		{"models:/churn/3", loopml.ModelURI{Name: "churn", Version: "3"}, "models:/churn/3"},
		{"models:/churn@champion", loopml.ModelURI{Name: "churn", Alias: "champion"}, "models:/churn@champion"},
		{"models:/churn/Production", loopml.ModelURI{Name: "churn", Stage: "Production"}, "models:/churn/Production"},
		{"models:/churn/staging", loopml.ModelURI{Name: "churn", Stage: "Staging"}, "models:/churn/Staging"},
		{"models:/churn/None", loopml.ModelURI{Name: "churn", Stage: "None"}, "models:/churn/None"},
		{"models:/churn/latest", loopml.ModelURI{Name: "churn", Latest: true}, "models:/churn/latest"},
		{"models:/churn/LATEST", loopml.ModelURI{Name: "churn", Latest: true}, "models:/churn/latest"},
		{"models:churn/3", loopml.ModelURI{Name: "churn", Version: "3"}, "models:/churn/3"},
		{"models://churn/3", loopml.ModelURI{Name: "churn", Version: "3"}, "models:/churn/3"},
		{"churn@champion", loopml.ModelURI{Name: "churn", Alias: "champion"}, "models:/churn@champion"},
		{"churn/12", loopml.ModelURI{Name: "churn", Version: "12"}, "models:/churn/12"},
		{"models:/my model/1", loopml.ModelURI{Name: "my model", Version: "1"}, "models:/my model/1"},
	}
	for _, tc := range tests {
		got, err := loopml.ParseModelURI(tc.in)
		if err != nil {
			t.Fatalf("ParseModelURI(%q): %v", tc.in, err)
		}
		if got != tc.want {
			t.Fatalf("ParseModelURI(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if got.String() != tc.str {
			t.Fatalf("ParseModelURI(%q).String() = %q, want %q", tc.in, got.String(), tc.str)
		}
		again, err := loopml.ParseModelURI(got.String())
		if err != nil || again != got {
			t.Fatalf("round trip of %q: %+v, %v", tc.in, again, err)
		}
	}
	for _, bad := range []string{
		"", "models:", "models:/", "models:/churn", "models:/churn/", "models:/churn/3/4",
		"models:/@champion", "models:/churn@", "models:/a/b@c", "models:/churn/Deployed", "churn",
		"models:/churn/-1", "models:/churn/3.0",
	} {
		_, err := loopml.ParseModelURI(bad)
		if loopml.ErrorCode(err) != loopml.EINVALID {
			t.Errorf("ParseModelURI(%q) = %v, want EINVALID", bad, err)
			continue
		}
		if bad != "" && !strings.Contains(loopml.ErrorMessage(err), bad) {
			t.Errorf("ParseModelURI(%q): message %q does not quote the URI", bad, loopml.ErrorMessage(err))
		}
	}
}

// fakeRegistry answers the three lookups ResolveModelURI makes from a
// fixed set of versions; other methods are not implemented (nil interface).
type fakeRegistry struct {
	loopml.ModelRegistry
	versions []*loopml.ModelVersion // of model "m"
	aliases  map[string]string
}

func (f *fakeRegistry) GetModelVersion(_ context.Context, name, version string) (*loopml.ModelVersion, error) {
	for _, v := range f.versions {
		if name == "m" && v.Version == version {
			return v, nil
		}
	}
	return nil, loopml.Errorf(loopml.ENOTFOUND, "Model Version (name=%s, version=%s) not found", name, version)
}

func (f *fakeRegistry) GetVersionByAlias(ctx context.Context, name, alias string) (*loopml.ModelVersion, error) {
	if v, ok := f.aliases[alias]; ok && name == "m" {
		return f.GetModelVersion(ctx, name, v)
	}
	return nil, loopml.Errorf(loopml.ENOTFOUND, "Registered model alias %s not found.", alias)
}

// GetLatestVersions returns the newest version per stage, in an order that
// is not the version order, so the caller must pick the newest itself.
func (f *fakeRegistry) GetLatestVersions(_ context.Context, name string, stages []string) ([]*loopml.ModelVersion, error) {
	if name != "m" {
		return nil, loopml.Errorf(loopml.ENOTFOUND, "Registered Model with name=%s not found", name)
	}
	latest := map[string]*loopml.ModelVersion{}
	var order []string
	for _, v := range f.versions {
		if _, ok := latest[v.CurrentStage]; !ok {
			order = append(order, v.CurrentStage)
		}
		latest[v.CurrentStage] = v
	}
	var out []*loopml.ModelVersion
	for _, st := range order {
		if len(stages) == 0 || st == stages[0] {
			out = append(out, latest[st])
		}
	}
	return out, nil
}

func TestResolveModelURI(t *testing.T) {
	reg := &fakeRegistry{
		versions: []*loopml.ModelVersion{
			{Name: "m", Version: "9", CurrentStage: "Production"},
			{Name: "m", Version: "10", CurrentStage: "None"},
			{Name: "m", Version: "11", CurrentStage: "Production"},
			{Name: "m", Version: "12", CurrentStage: "Archived"},
			{Name: "m", Version: "2", CurrentStage: "Staging"},
		},
		aliases: map[string]string{"champion": "10"},
	}
	tests := []struct{ uri, want, code string }{
		{"models:/m/9", "9", ""},
		{"models:/m@champion", "10", ""},
		{"models:/m/Production", "11", ""},
		{"models:/m/staging", "2", ""},
		{"models:/m/latest", "12", ""}, // numeric, not string, order: 12 > 2
		{"models:/m/4", "", loopml.ENOTFOUND},
		{"models:/m@nobody", "", loopml.ENOTFOUND},
		{"models:/x/latest", "", loopml.ENOTFOUND},
	}
	for _, tc := range tests {
		u, err := loopml.ParseModelURI(tc.uri)
		if err != nil {
			t.Fatal(err)
		}
		v, err := loopml.ResolveModelURI(context.Background(), reg, u)
		if tc.code != "" {
			if loopml.ErrorCode(err) != tc.code {
				t.Fatalf("%s: got %v, want %s", tc.uri, err, tc.code)
			}
			continue
		}
		if err != nil || v.Version != tc.want {
			t.Fatalf("%s: got %+v, %v; want version %s", tc.uri, v, err, tc.want)
		}
	}
	empty := &fakeRegistry{versions: []*loopml.ModelVersion{{Name: "m", Version: "1", CurrentStage: "None"}}}
	_, err := loopml.ResolveModelURI(context.Background(), empty, loopml.ModelURI{Name: "m", Stage: "Production"})
	if loopml.ErrorCode(err) != loopml.ENOTFOUND || !strings.Contains(loopml.ErrorMessage(err), "Production") {
		t.Fatalf("no Production version: %v", err)
	}
}

func TestModelVersionStorePath(t *testing.T) {
	ctx := context.Background()
	reg := &fakeRegistry{
		versions: []*loopml.ModelVersion{
			{Name: "m", Version: "1", Source: "mlflow-artifacts:/1/abc/artifacts/model"},
			{Name: "m", Version: "2", Source: "models:/m/1"},
			{Name: "m", Version: "3", Source: "models:/m@loop"},
		},
		aliases: map[string]string{"loop": "3"},
	}
	tests := []struct {
		source   string
		want     string
		wantCode string
	}{
		{"mlflow-artifacts:/1/abc/artifacts/model", "1/abc/artifacts/model", ""},
		{"mlflow-artifacts:1/abc/artifacts/model/", "1/abc/artifacts/model", ""},
		{"mlflow-artifacts://server:5000/1/abc/artifacts/model", "1/abc/artifacts/model", ""},
		{"models:/m/1", "1/abc/artifacts/model", ""},
		{"models:/m/2", "1/abc/artifacts/model", ""}, // two hops
		{"models:/m/3", "", loopml.EINVALID},         // a cycle: stops after MaxModelSourceHops
		{"models:/m/7", "", loopml.ENOTFOUND},
		{"mlflow-artifacts:/1/../../etc", "", loopml.EINVALID},
		{"s3://bucket/model", "", loopml.EINVALID},
		{"/abs/model", "", loopml.EINVALID},
	}
	for _, tt := range tests {
		got, err := loopml.ModelVersionStorePath(ctx, reg, &loopml.ModelVersion{Name: "x", Version: "1", Source: tt.source})
		if loopml.ErrorCode(err) != tt.wantCode || got != tt.want {
			t.Errorf("ModelVersionStorePath(%q) = %q, %v; want %q, code %q", tt.source, got, err, tt.want, tt.wantCode)
		}
	}
}
