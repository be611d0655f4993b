#include "loadgen/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/assert.h"

namespace triad::loadgen {
namespace {

constexpr double kEpsilon = 1e-9;

// Panel geometry, in pixels: room for tick labels on the left, the legend on
// the right, the title above and the axis label (and note) below.
constexpr double kLeftPx = 84;
constexpr double kLegendPx = 150;
constexpr double kTopPx = 34;
constexpr double kBottomPx = 62;
constexpr double kHeaderPx = 58;
constexpr double kLegendRowPx = 17;
// Rough size of 12 px sans-serif text, to keep tick labels from overlapping.
constexpr double kCharPx = 7;
constexpr double kLineHeightPx = 14;

bool placeable(Scale scale, double v) {
  return std::isfinite(v) && (scale != Scale::kLog || v > 0);
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string format_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// 1, 2 or 5 times a power of ten, the smallest not below `raw` (> 0).
double nice_step(double raw) {
  TRIAD_ASSERT(raw > 0 && std::isfinite(raw));
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / magnitude;
  const double nice = f <= 1 + kEpsilon ? 1 : f <= 2 + kEpsilon ? 2 : f <= 5 + kEpsilon ? 5 : 10;
  return nice * magnitude;
}

struct Box {
  double left, top, width, height;
  double px(Scale s, AxisRange r, double v) const { return left + axis_fraction(s, r, v) * width; }
  double py(Scale s, AxisRange r, double v) const {
    return top + (1 - axis_fraction(s, r, v)) * height;
  }
};

void render_chart(const Chart& chart, double x0, double y0, double width, double height,
                  std::string* out) {
  std::string& s = *out;
  std::vector<double> xs;
  std::vector<double> ys;
  for (const Series& series : chart.series) {
    for (const PlotPoint& p : series.points) {
      if (placeable(chart.x.scale, p.x) && placeable(chart.y.scale, p.y)) {
        xs.push_back(p.x);
        ys.push_back(p.y);
      }
    }
  }
  const AxisRange xr = auto_range(chart.x, xs);
  const AxisRange yr = auto_range(chart.y, ys);
  const Box box{x0 + kLeftPx, y0 + kTopPx, std::max(40.0, width - kLeftPx - kLegendPx),
                std::max(40.0, height - kTopPx - kBottomPx)};

  s += "<g class=\"chart\">\n";
  s += "<text class=\"chart-title\" x=\"" + num(box.left + box.width / 2) + "\" y=\"" +
       num(y0 + 20) + "\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" +
       escape(chart.title) + "</text>\n";
  s += "<rect class=\"plot-area\" x=\"" + num(box.left) + "\" y=\"" + num(box.top) + "\" width=\"" +
       num(box.width) + "\" height=\"" + num(box.height) + "\" fill=\"none\" stroke=\"#333\"/>\n";

  // Every tick gets its grid line; a label that would overlap the one before
  // it is left out (close ticks on a log axis, e.g. 0% and 50%).
  double label_end = -HUGE_VAL;
  for (const Tick& t : axis_ticks(chart.x, xr)) {
    const double x = box.px(chart.x.scale, xr, t.value);
    s += "<line class=\"grid\" x1=\"" + num(x) + "\" y1=\"" + num(box.top) + "\" x2=\"" + num(x) +
         "\" y2=\"" + num(box.top + box.height) + "\" stroke=\"#ddd\"/>\n";
    const double half_px = kCharPx * static_cast<double>(t.label.size()) / 2;
    if (x - half_px < label_end + kCharPx) continue;
    label_end = x + half_px;
    s += "<text class=\"x-tick\" x=\"" + num(x) + "\" y=\"" + num(box.top + box.height + 16) +
         "\" text-anchor=\"middle\">" + escape(t.label) + "</text>\n";
  }
  label_end = HUGE_VAL;
  for (const Tick& t : axis_ticks(chart.y, yr)) {
    const double y = box.py(chart.y.scale, yr, t.value);
    s += "<line class=\"grid\" x1=\"" + num(box.left) + "\" y1=\"" + num(y) + "\" x2=\"" +
         num(box.left + box.width) + "\" y2=\"" + num(y) + "\" stroke=\"#ddd\"/>\n";
    if (y > label_end - kLineHeightPx) continue;  // labels go up the page
    label_end = y;
    s += "<text class=\"y-tick\" x=\"" + num(box.left - 6) + "\" y=\"" + num(y + 4) +
         "\" text-anchor=\"end\">" + escape(t.label) + "</text>\n";
  }
  s += "<text class=\"x-label\" x=\"" + num(box.left + box.width / 2) + "\" y=\"" +
       num(box.top + box.height + 36) + "\" text-anchor=\"middle\">" + escape(chart.x.label) +
       "</text>\n";
  const double ylx = x0 + 16;
  const double yly = box.top + box.height / 2;
  s += "<text class=\"y-label\" x=\"" + num(ylx) + "\" y=\"" + num(yly) +
       "\" text-anchor=\"middle\" transform=\"rotate(-90 " + num(ylx) + " " + num(yly) + ")\">" +
       escape(chart.y.label) + "</text>\n";
  if (!chart.note.empty()) {
    s += "<text class=\"note\" x=\"" + num(box.left) + "\" y=\"" + num(box.top + box.height + 54) +
         "\" font-size=\"11\" fill=\"#555\">" + escape(chart.note) + "</text>\n";
  }
  if (xs.empty()) {
    s += "<text class=\"no-data\" x=\"" + num(box.left + box.width / 2) + "\" y=\"" +
         num(box.top + box.height / 2) + "\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n";
  }

  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const Series& series = chart.series[i];
    std::vector<PlotPoint> placed;
    for (const PlotPoint& p : series.points) {
      if (placeable(chart.x.scale, p.x) && placeable(chart.y.scale, p.y)) {
        placed.push_back(
            {box.px(chart.x.scale, xr, p.x), box.py(chart.y.scale, yr, p.y), p.hollow});
      }
    }
    // Built by appending: GCC 12's -Wrestrict misfires on "literal" + temporary.
    std::string dash;
    if (!series.dash.empty()) {
      dash += " stroke-dasharray=\"";
      dash += escape(series.dash);
      dash += '"';
    }
    std::string points;
    for (const PlotPoint& p : placed) {
      if (!points.empty()) points += ' ';
      points += num(p.x);
      points += ',';
      points += num(p.y);
    }
    s += "<polyline class=\"series\" data-series=\"" + escape(series.name) + "\" points=\"" +
         points + "\" fill=\"none\" stroke=\"" + escape(series.color) + "\" stroke-width=\"2\"" +
         dash + "/>\n";
    // A lone point has no line to show it: always mark it.
    for (std::size_t k = 0; k < placed.size(); ++k) {
      const bool mark = series.markers == Markers::kAll || placed.size() == 1 ||
                        (series.markers == Markers::kLast && k + 1 == placed.size());
      if (!mark) continue;
      s += "<circle class=\"marker\" cx=\"" + num(placed[k].x) + "\" cy=\"" + num(placed[k].y) +
           (placed[k].hollow ? "\" r=\"4\" fill=\"white\" stroke-width=\"1.5\" stroke=\""
                             : "\" r=\"3\" fill=\"") +
           escape(series.color) + "\"/>\n";
    }
    // Legend: a line sample in the series' style, then its name.
    const double lx = box.left + box.width + 12;
    const double ly = box.top + 8 + static_cast<double>(i) * kLegendRowPx;
    s += "<line class=\"legend-line\" x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" +
         num(lx + 26) + "\" y2=\"" + num(ly) + "\" stroke=\"" + escape(series.color) +
         "\" stroke-width=\"2\"" + dash + "/>\n";
    s += "<text class=\"legend\" x=\"" + num(lx + 32) + "\" y=\"" + num(ly + 4) + "\">" +
         escape(series.name) + "</text>\n";
  }
  s += "</g>\n";
}

}  // namespace

double axis_fraction(Scale scale, AxisRange range, double v) {
  if (scale == Scale::kLog) {
    TRIAD_ASSERT(range.lo > 0 && range.hi > 0 && v > 0);
    const double span = std::log10(range.hi) - std::log10(range.lo);
    return span == 0 ? 0.5 : (std::log10(v) - std::log10(range.lo)) / span;
  }
  const double span = range.hi - range.lo;
  return span == 0 ? 0.5 : (v - range.lo) / span;
}

AxisRange auto_range(const Axis& axis, const std::vector<double>& values) {
  double lo = HUGE_VAL;
  double hi = -HUGE_VAL;
  for (const double v : values) {
    if (!placeable(axis.scale, v)) continue;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  if (axis.scale == Scale::kLog) {
    if (lo > hi) return {1, 10};
    const double lo_decade = std::floor(std::log10(lo) + kEpsilon);
    double hi_decade = std::ceil(std::log10(hi) - kEpsilon);
    if (hi_decade <= lo_decade) hi_decade = lo_decade + 1;
    return {std::pow(10.0, lo_decade), std::pow(10.0, hi_decade)};
  }
  if (lo > hi) return {0, 1};
  if (axis.include_zero && lo >= 0) lo = 0;
  if (hi == lo) {
    // One value: a unit-sized (or value-sized) window around it.
    const double half = lo == 0 ? 1 : std::fabs(lo) / 2;
    return {axis.include_zero && lo >= 0 ? 0 : lo - half, hi + half};
  }
  const double step = nice_step((hi - lo) / 5);
  return {std::floor(lo / step + kEpsilon) * step, std::ceil(hi / step - kEpsilon) * step};
}

std::vector<Tick> axis_ticks(const Axis& axis, AxisRange range) {
  const auto inside = [&](double v) {
    const double slack = (range.hi - range.lo) * kEpsilon;
    return v >= range.lo - slack && v <= range.hi + slack;
  };
  const auto label = [&](double v) { return axis.format ? axis.format(v) : format_g(v); };
  std::vector<Tick> ticks;
  if (!axis.ticks.empty()) {
    for (const Tick& t : axis.ticks) {
      if (inside(t.value)) ticks.push_back(t);
    }
    return ticks;
  }
  if (axis.scale == Scale::kLog) {
    TRIAD_ASSERT(range.lo > 0);
    const int first = static_cast<int>(std::floor(std::log10(range.lo) + kEpsilon));
    const int last = static_cast<int>(std::ceil(std::log10(range.hi) - kEpsilon));
    const bool fine = last - first < 4;
    for (int k = first; k <= last; ++k) {
      const double decade = std::pow(10.0, k);
      for (const double m : {1.0, 2.0, 5.0}) {
        if (m != 1 && !fine) continue;
        if (inside(decade * m)) ticks.push_back({decade * m, label(decade * m)});
      }
    }
    return ticks;
  }
  const double step = nice_step((range.hi - range.lo) / 6);
  const auto first = static_cast<long long>(std::ceil(range.lo / step - kEpsilon));
  const auto last = static_cast<long long>(std::floor(range.hi / step + kEpsilon));
  for (long long k = first; k <= last; ++k) {
    const double v = static_cast<double>(k) * step;
    ticks.push_back({v, label(v)});
  }
  return ticks;
}

std::string format_duration_us(double us) {
  char buf[32];
  if (us < 1000) {
    std::snprintf(buf, sizeof buf, "%.3g µs", us);
  } else if (us < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.3g ms", us / 1000);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g s", us / 1'000'000);
  }
  return buf;
}

std::vector<PlotPoint> percentile_spectrum(const Histogram& latency_ns, int points_per_decade) {
  TRIAD_ASSERT(points_per_decade > 0);
  std::vector<PlotPoint> points;
  const auto count = static_cast<double>(latency_ns.count());
  if (count == 0) return points;
  for (int i = 0;; ++i) {
    const double x = std::pow(10.0, static_cast<double>(i) / points_per_decade);
    if (x >= count) break;
    const double percentile = 100 * (1 - 1 / x);
    points.push_back({x, static_cast<double>(latency_ns.value_at_percentile(percentile)) / 1000});
  }
  points.push_back({count, static_cast<double>(latency_ns.max()) / 1000});
  return points;
}

std::vector<Tick> percentile_ticks(double hi) {
  // No "0%" at x = 1: it sits too close to 50% to label, and the axis
  // starts there anyway.
  std::vector<Tick> ticks = {{2, "50%"}};
  std::string nines = "9";
  for (double x = 10; x <= hi * (1 + kEpsilon); x *= 10) {
    // 90%, 99%, 99.9%, 99.99%, ...
    const std::string label =
        nines.size() == 1
            ? "90%"
            : nines.substr(0, 2) + (nines.size() > 2 ? "." : "") + nines.substr(2) + "%";
    ticks.push_back({x, label});
    nines += "9";
  }
  return ticks;
}

std::string palette_color(std::size_t index) {
  static const char* const kColors[] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                                        "#e69f00", "#56b4e9", "#000000"};
  return kColors[index % (sizeof kColors / sizeof kColors[0])];
}

std::string render_svg(const Figure& figure) {
  TRIAD_ASSERT(figure.columns > 0);
  const double panel_w = figure.panel_width_px;
  const double panel_h = figure.panel_height_px;
  const auto columns = static_cast<std::size_t>(figure.columns);
  const double width = panel_w * static_cast<double>(columns);
  // Where each chart goes: (x, y, width).
  struct Slot {
    double x, y, w;
  };
  std::vector<Slot> slots;
  double y = kHeaderPx;
  std::size_t column = 0;
  for (std::size_t i = 0; i < figure.charts.size(); ++i) {
    if (i == 0 && figure.first_chart_full_width) {
      slots.push_back({0, y, width});
      y += panel_h;
      continue;
    }
    slots.push_back({panel_w * static_cast<double>(column), y, panel_w});
    if (++column == columns) {
      column = 0;
      y += panel_h;
    }
  }
  if (column != 0) y += panel_h;
  const double height = std::max(y, kHeaderPx + 40);

  std::string s;
  s += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  s += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" +
       num(height) + "\" viewBox=\"0 0 " + num(width) + " " + num(height) +
       "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  s += "<rect width=\"" + num(width) + "\" height=\"" + num(height) + "\" fill=\"white\"/>\n";
  s += "<text class=\"title\" x=\"" + num(width / 2) +
       "\" y=\"24\" text-anchor=\"middle\" font-size=\"18\" font-weight=\"bold\">" +
       escape(figure.title) + "</text>\n";
  s += "<text class=\"subtitle\" x=\"" + num(width / 2) +
       "\" y=\"44\" text-anchor=\"middle\" fill=\"#444\">" + escape(figure.subtitle) + "</text>\n";
  for (std::size_t i = 0; i < figure.charts.size(); ++i) {
    render_chart(figure.charts[i], slots[i].x, slots[i].y, slots[i].w, panel_h, &s);
  }
  s += "</svg>\n";
  return s;
}

}  // namespace triad::loadgen
