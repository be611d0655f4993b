// SVG line charts for `triad bench --svg`: latency against throughput, and
// the percentile spectrum. Hand-written SVG text, so the bench needs no
// plotting dependency and the picture is a pure function of the numbers: this
// file does no I/O, it returns strings; the caller writes them.
//
// Axes are linear or log10. Points that a log axis cannot place (zero,
// negative) and non-finite points are left out rather than clamped, so a line
// never shows a value that was not measured.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "loadgen/histogram.h"

namespace triad::loadgen {

enum class Scale { kLinear, kLog };

struct Tick {
  double value = 0;
  std::string label;
};

struct Axis {
  std::string label;  // with the unit, e.g. "latency (µs, log scale)"
  Scale scale = Scale::kLinear;
  bool include_zero = true;  // linear axes only: start at 0 when the data are >= 0
  std::vector<Tick> ticks;   // empty: chosen from the data range
  // Labels of automatic ticks; empty: "%g".
  std::function<std::string(double)> format;
};

struct PlotPoint {
  double x = 0;
  double y = 0;
  bool hollow = false;  // its marker is an open circle (e.g. a run that did not hold)
};

enum class Markers { kNone, kAll, kLast };

struct Series {
  std::string name;   // legend text
  std::string color;  // any SVG colour, e.g. "#0072b2"
  std::string dash;   // stroke-dasharray, empty for a solid line
  Markers markers = Markers::kAll;
  std::vector<PlotPoint> points;  // drawn in this order, joined by a line
};

struct Chart {
  std::string title;
  Axis x;
  Axis y;
  std::vector<Series> series;
  std::string note;  // one small line under the plot area, may be empty
};

struct Figure {
  std::string title;
  std::string subtitle;  // e.g. machine and time
  // The first chart takes a whole row; the rest fill rows of `columns`.
  std::vector<Chart> charts;
  bool first_chart_full_width = true;
  int columns = 2;
  double panel_width_px = 620;
  double panel_height_px = 400;
};

// The lowest and highest value an axis shows.
struct AxisRange {
  double lo = 0;
  double hi = 1;
};

// An SVG document (UTF-8 text) drawing `figure`.
std::string render_svg(const Figure& figure);

// Where `v` falls between lo (0) and hi (1) on `scale`. For kLog, lo, hi and
// v must be > 0. lo == hi gives 0.5.
double axis_fraction(Scale scale, AxisRange range, double v);

// The range an axis shows for these values: a log axis rounds out to whole
// decades, a linear one to a "nice" step (and to 0 with include_zero). Values
// the axis cannot place are ignored; none at all gives [1, 10] (log) or
// [0, 1] (linear). Never lo == hi.
AxisRange auto_range(const Axis& axis, const std::vector<double>& values);

// Tick marks for `range`: the axis's own ticks inside the range when it has
// some, else decades (log; with 2 and 5 when the range spans under four
// decades) or a 1-2-5 step giving about six ticks (linear).
std::vector<Tick> axis_ticks(const Axis& axis, AxisRange range);

// A duration given in microseconds as people read it: "850 µs", "1.2 ms",
// "3 s".
std::string format_duration_us(double us);

// The percentile spectrum of `latency_ns` (Aeron / HdrHistogram style): x is
// 1/(1-q) for quantile q (1 at the minimum, 2 at the median, 100 at p99, ...),
// so on a log axis every "nine" gets the same width; y is the latency in
// microseconds at q. `points_per_decade` points per factor of ten in x, and a
// last point (count, max). Empty for an empty histogram.
std::vector<PlotPoint> percentile_spectrum(const Histogram& latency_ns, int points_per_decade = 20);

// Ticks for a spectrum's x axis up to `hi`: 50%, 90%, 99%, 99.9%, ...
std::vector<Tick> percentile_ticks(double hi);

// A colour from a fixed palette that stays distinct for people with the
// common colour-vision deficiencies (Okabe and Ito); cycles after 7.
std::string palette_color(std::size_t index);

}  // namespace triad::loadgen
