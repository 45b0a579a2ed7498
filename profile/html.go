package profile

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"time"
)

// WriteHTML writes a self-contained HTML report of the profile (inline CSS
// and SVG histograms, no scripts): a summary, then one section per column
// with its schema, statistics, quantiles, histogram and frequent values.
// title heads the page.
func WriteHTML(w io.Writer, p *Profile, title string) error {
	v := htmlReport{Title: title, Rows: p.Rows(), BadRows: p.BadRows, Issues: p.Issues}
	for _, c := range p.Summaries() {
		v.Columns = append(v.Columns, newHTMLColumn(c))
	}
	return reportTemplate.Execute(w, v)
}

type htmlReport struct {
	Title   string
	Rows    int64
	BadRows int64
	Issues  []Issue
	Columns []htmlColumn
}

type htmlPair struct{ K, V string }

type htmlBar struct {
	X, Y, W, H float64
	Title      string
}

type htmlLabel struct {
	X, Y float64
	Text string
}

type htmlHist struct {
	Width, Height int
	Bars          []htmlBar
	Labels        []htmlLabel
	Note          string
}

type htmlTop struct {
	Value string
	Count int64
	Width float64
}

type htmlColumn struct {
	Name, Type, Kind string
	Stats            []htmlPair
	Quantiles        []htmlPair
	Hist             *htmlHist
	Top              []htmlTop
	TopNote          string
}

func newHTMLColumn(c ColumnSummary) htmlColumn {
	h := htmlColumn{Name: c.Name, Type: typeLabel(c.Field), Kind: string(c.Kind)}
	if c.PossiblyCategorical {
		h.Kind += " (possibly categorical)"
	}
	h.Stats = []htmlPair{
		{"count", strconv.FormatInt(c.Count, 10)},
		{"missing", strconv.FormatInt(c.Missing, 10)},
		{"distinct", fmtDistinct(c)},
		{"nullable", strconv.FormatBool(c.Nullable)},
	}
	if c.Length != nil {
		h.Stats = append(h.Stats, htmlPair{"length", fmt.Sprintf("%d..%d (mean %s)", c.Length.Min, c.Length.Max, fmtNum(c.Length.Mean))})
	}
	if n := c.Numeric; n != nil && c.Kind == KindNumeric {
		h.Stats = append(h.Stats,
			htmlPair{"min", fmtValue(c.Field, n.Min)}, htmlPair{"max", fmtValue(c.Field, n.Max)},
			htmlPair{"mean", fmtValue(c.Field, n.Mean)}, htmlPair{"stddev", fmtNum(n.Stddev)})
		for _, q := range n.Quantiles {
			h.Quantiles = append(h.Quantiles, htmlPair{"p" + strconv.FormatFloat(q.P*100, 'g', -1, 64), fmtValue(c.Field, q.Value)})
		}
		if n.Histogram != nil {
			h.Hist = newHTMLHist(c.Field, n.Histogram)
		}
	}
	if c.Kind == KindCategorical || c.PossiblyCategorical {
		var top int64
		for _, vc := range c.Top {
			top = max(top, vc.Count)
		}
		for _, vc := range c.Top {
			if !c.TopExact && vc.Count <= c.ErrorBound {
				break
			}
			h.Top = append(h.Top, htmlTop{Value: vc.Value, Count: vc.Count, Width: math.Round(240*float64(vc.Count)/float64(top)*10) / 10})
		}
		if !c.TopExact {
			h.TopNote = fmt.Sprintf("Misra–Gries counts: each at most %d below the true count.", c.ErrorBound)
		}
	}
	return h
}

// newHTMLHist lays out the bins at equal widths (the outer bins are
// open-ended) with heights proportional to their counts.
func newHTMLHist(f Field, hist *Histogram) *htmlHist {
	const width, height, bottom = 480, 140, 20
	g := &htmlHist{Width: width, Height: height + bottom}
	var top int64
	for _, c := range hist.Counts {
		top = max(top, c)
	}
	bw := float64(width) / float64(len(hist.Counts))
	for i, c := range hist.Counts {
		hgt := 0.0
		if top > 0 {
			hgt = math.Round(float64(height-4)*float64(c)/float64(top)*10) / 10
		}
		lo, hi := "−∞", "+∞"
		if i > 0 {
			lo = fmtValue(f, hist.Edges[i-1])
		}
		if i < len(hist.Edges) {
			hi = fmtValue(f, hist.Edges[i])
		}
		g.Bars = append(g.Bars, htmlBar{
			X: math.Round(float64(i)*bw*10)/10 + 1, Y: math.Round((float64(height)-hgt)*10) / 10, W: math.Round((bw-2)*10) / 10, H: hgt,
			Title: fmt.Sprintf("[%s, %s): %d", lo, hi, c),
		})
	}
	step := max(1, (len(hist.Edges)+4)/5)
	for i := 0; i < len(hist.Edges); i += step {
		text := fmtValue(f, hist.Edges[i])
		if f.Type == TypeTimestamp {
			text = text[:min(len(text), len(time.DateOnly))]
		}
		g.Labels = append(g.Labels, htmlLabel{X: math.Round(float64(i+1)*bw*10) / 10, Y: height + bottom - 5, Text: text})
	}
	switch {
	case hist.Fixed:
		g.Note = "fixed reference bins, exact counts"
	case hist.Estimated:
		g.Note = "bins from quantiles, counts estimated from the t-digest"
	default:
		g.Note = "bins from quantiles, exact counts"
	}
	return g
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{{.Title}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.15em;margin:0 0 .4em}
section{border:1px solid #ddd;border-radius:6px;padding:1em;margin:1em 0;display:flex;flex-wrap:wrap;gap:1.5em}
section>header{flex-basis:100%}
table{border-collapse:collapse}td,th{padding:2px 8px;text-align:left;border-bottom:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.tag{color:#666;font-weight:normal}.note{color:#666;font-size:.85em}
svg text{font-size:10px;fill:#555}rect.bar{fill:#4a78b5}rect.top{fill:#8aa85a}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>{{.Rows}} rows, {{len .Columns}} columns, {{.BadRows}} bad rows skipped.</p>
{{- if .Issues}}
<h2>Issues</h2>
<ul>{{range .Issues}}<li>{{.}}</li>{{end}}</ul>
{{- end}}
{{range .Columns}}
<section>
<header><h2>{{.Name}} <span class="tag">{{.Type}} · {{.Kind}}</span></h2></header>
<table>{{range .Stats}}<tr><th>{{.K}}</th><td class="n">{{.V}}</td></tr>{{end}}</table>
{{- if .Quantiles}}
<table>{{range .Quantiles}}<tr><th>{{.K}}</th><td class="n">{{.V}}</td></tr>{{end}}</table>
{{- end}}
{{- with .Hist}}
<figure>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" role="img" aria-label="histogram">
{{- range .Bars}}
<rect class="bar" x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}"><title>{{.Title}}</title></rect>
{{- end}}
{{- range .Labels}}
<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Text}}</text>
{{- end}}
</svg>
<figcaption class="note">{{.Note}}</figcaption>
</figure>
{{- end}}
{{- if .Top}}
<table>
<tr><th>value</th><th>count</th><th></th></tr>
{{- range .Top}}
<tr><td>{{.Value}}</td><td class="n">{{.Count}}</td><td><svg width="242" height="12"><rect class="top" x="0" y="1" width="{{.Width}}" height="10"/></svg></td></tr>
{{- end}}
</table>
{{- end}}
{{- with .TopNote}}<p class="note">{{.}}</p>{{end}}
</section>
{{- end}}
</body>
</html>
`))
