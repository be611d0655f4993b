// The SVG charts of `triad bench --svg`: well-formed output, scale math, and
// points placed where their values say.
#include "loadgen/plot.h"

#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace triad::loadgen {
namespace {

// A small check of XML well-formedness: every element closes in order,
// attributes are quoted, and text holds no bare '<' or '&' (entities aside).
// Returns an empty string when it holds, else what is wrong.
std::string xml_problem(const std::string& doc) {
  std::vector<std::string> open;
  std::size_t i = 0;
  if (doc.rfind("<?xml", 0) == 0) i = doc.find("?>") + 2;
  while (i < doc.size()) {
    const char c = doc[i];
    if (c == '&') {
      const std::size_t semi = doc.find(';', i);
      if (semi == std::string::npos) return "unterminated entity";
      const std::string entity = doc.substr(i, semi - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;" &&
          entity != "&apos;") {
        return "unknown entity " + entity;
      }
      i = semi + 1;
      continue;
    }
    if (c != '<') {
      ++i;
      continue;
    }
    const std::size_t end = doc.find('>', i);
    if (end == std::string::npos) return "unterminated tag";
    std::string tag = doc.substr(i + 1, end - i - 1);
    i = end + 1;
    if (tag.empty()) return "empty tag";
    if (tag[0] == '/') {
      if (open.empty() || open.back() != tag.substr(1)) return "mismatched </" + tag.substr(1);
      open.pop_back();
      continue;
    }
    const bool self_closing = tag.back() == '/';
    if (self_closing) tag.pop_back();
    const std::string name = tag.substr(0, tag.find_first_of(" \n"));
    // Attribute values: every '=' is followed by a quote, quotes balance.
    std::size_t quotes = 0;
    for (std::size_t k = 0; k < tag.size(); ++k) {
      if (tag[k] == '"') ++quotes;
      if (tag[k] == '=' && quotes % 2 == 0 && (k + 1 >= tag.size() || tag[k + 1] != '"')) {
        return "unquoted attribute in <" + name;
      }
      if (tag[k] == '<') return "'<' inside <" + name;
    }
    if (quotes % 2 != 0) return "unbalanced quotes in <" + name;
    if (!self_closing) open.push_back(name);
  }
  if (!open.empty()) return "unclosed <" + open.back();
  return "";
}

// The "x,y x,y ..." of every series polyline, in document order.
std::vector<std::vector<PlotPoint>> polylines(const std::string& doc) {
  std::vector<std::vector<PlotPoint>> out;
  std::size_t at = 0;
  while ((at = doc.find("<polyline class=\"series\"", at)) != std::string::npos) {
    const std::size_t begin = doc.find("points=\"", at) + 8;
    const std::size_t end = doc.find('"', begin);
    std::istringstream in(doc.substr(begin, end - begin));
    std::vector<PlotPoint> points;
    std::string pair;
    while (in >> pair) {
      const std::size_t comma = pair.find(',');
      points.push_back({std::stod(pair.substr(0, comma)), std::stod(pair.substr(comma + 1))});
    }
    out.push_back(points);
    at = end;
  }
  return out;
}

Chart latency_chart(std::vector<Series> series) {
  Chart c;
  c.title = "latency <vs> throughput & more";
  c.x = {"achieved (decisions/s)", Scale::kLinear, true, {}, {}};
  c.y = {"latency (µs, log scale)", Scale::kLog, false, {}, format_duration_us};
  c.series = std::move(series);
  return c;
}

std::string render_one(Chart chart) {
  Figure f;
  f.title = "Triad \"bench\"";
  f.subtitle = "host <x> & time";
  f.charts.push_back(std::move(chart));
  return render_svg(f);
}

TEST(PlotTest, LogScaleFractions) {
  EXPECT_DOUBLE_EQ(axis_fraction(Scale::kLog, {1, 100}, 10), 0.5);
  EXPECT_DOUBLE_EQ(axis_fraction(Scale::kLog, {10, 10000}, 100), 1.0 / 3);
  EXPECT_DOUBLE_EQ(axis_fraction(Scale::kLog, {1, 1000}, 1), 0);
  EXPECT_DOUBLE_EQ(axis_fraction(Scale::kLog, {1, 1000}, 1000), 1);
  EXPECT_NEAR(axis_fraction(Scale::kLog, {1, 10}, 2), std::log10(2.0), 1e-12);
  EXPECT_DOUBLE_EQ(axis_fraction(Scale::kLinear, {0, 200}, 50), 0.25);
  EXPECT_DOUBLE_EQ(axis_fraction(Scale::kLinear, {5, 5}, 5), 0.5);
}

TEST(PlotTest, RangesRoundOut) {
  const Axis log_axis{"", Scale::kLog, false, {}, {}};
  const AxisRange r = auto_range(log_axis, {85, 2300, 0, -3, NAN});
  EXPECT_DOUBLE_EQ(r.lo, 10);
  EXPECT_DOUBLE_EQ(r.hi, 10000);
  // Exact decades stay put; one value still gives a decade.
  EXPECT_DOUBLE_EQ(auto_range(log_axis, {100, 1000}).lo, 100);
  EXPECT_DOUBLE_EQ(auto_range(log_axis, {100, 1000}).hi, 1000);
  EXPECT_DOUBLE_EQ(auto_range(log_axis, {100}).lo, 100);
  EXPECT_DOUBLE_EQ(auto_range(log_axis, {100}).hi, 1000);
  EXPECT_DOUBLE_EQ(auto_range(log_axis, {}).lo, 1);

  const Axis lin{"", Scale::kLinear, true, {}, {}};
  const AxisRange l = auto_range(lin, {480, 3900});
  EXPECT_DOUBLE_EQ(l.lo, 0);
  EXPECT_DOUBLE_EQ(l.hi, 4000);
  EXPECT_LT(auto_range(lin, {7}).lo, auto_range(lin, {7}).hi);
  EXPECT_LT(auto_range(lin, {}).lo, auto_range(lin, {}).hi);
}

TEST(PlotTest, TicksFallInsideTheRange) {
  const Axis log_axis{"", Scale::kLog, false, {}, format_duration_us};
  const auto decades = axis_ticks(log_axis, {10, 1e7});
  ASSERT_EQ(decades.size(), 7u);
  EXPECT_EQ(decades.front().label, "10 µs");
  EXPECT_EQ(decades[2].label, "1 ms");
  EXPECT_EQ(decades.back().label, "10 s");
  // A narrow range gets 2 and 5 too.
  EXPECT_EQ(axis_ticks(log_axis, {100, 1000}).size(), 4u);

  const Axis lin{"", Scale::kLinear, true, {}, {}};
  const auto ticks = axis_ticks(lin, {0, 4000});
  ASSERT_GE(ticks.size(), 4u);
  for (std::size_t i = 1; i < ticks.size(); ++i) EXPECT_GT(ticks[i].value, ticks[i - 1].value);
  EXPECT_DOUBLE_EQ(ticks.front().value, 0);
  EXPECT_DOUBLE_EQ(ticks.back().value, 4000);
}

TEST(PlotTest, DurationsReadNaturally) {
  EXPECT_EQ(format_duration_us(850), "850 µs");
  EXPECT_EQ(format_duration_us(1200), "1.2 ms");
  EXPECT_EQ(format_duration_us(3'000'000), "3 s");
}

TEST(PlotTest, PercentileTicksAreNines) {
  const auto ticks = percentile_ticks(10000);
  ASSERT_EQ(ticks.size(), 5u);
  const char* want[] = {"50%", "90%", "99%", "99.9%", "99.99%"};
  for (std::size_t i = 0; i < ticks.size(); ++i) EXPECT_EQ(ticks[i].label, want[i]);
  EXPECT_DOUBLE_EQ(ticks[0].value, 2);
  EXPECT_DOUBLE_EQ(ticks[2].value, 100);
}

TEST(PlotTest, SpectrumIsMonotoneAndEndsAtTheMax) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 10000; ++v) h.record(v * 1000);  // 1 µs .. 10 ms
  const auto points = percentile_spectrum(h, 10);
  ASSERT_GE(points.size(), 40u);
  EXPECT_DOUBLE_EQ(points.front().x, 1);
  EXPECT_NEAR(points.front().y, 1, 0.01);
  for (std::size_t i = 1; i < points.size(); ++i) {
    EXPECT_GT(points[i].x, points[i - 1].x);
    EXPECT_GE(points[i].y, points[i - 1].y);
  }
  EXPECT_DOUBLE_EQ(points.back().x, 10000);
  EXPECT_DOUBLE_EQ(points.back().y, 10000);
  // x = 2 is the median, x = 100 is p99.
  for (const PlotPoint& p : points) {
    if (std::fabs(p.x - 2) < 1e-9 || std::fabs(p.x - 100) < 1e-9) {
      const double want = p.x == 2 ? 5000 : 9900;
      EXPECT_NEAR(p.y, want, want / 1000);
    }
  }
  EXPECT_TRUE(percentile_spectrum(Histogram{}).empty());
  Histogram one;
  one.record(5000);
  ASSERT_EQ(percentile_spectrum(one).size(), 1u);
}

TEST(PlotTest, WellFormedWithEscapedText) {
  Series s{"tmr <p50> & co", palette_color(0), "6,4", Markers::kAll, {{500, 800}, {1000, 900}}};
  const std::string doc = render_one(latency_chart({s}));
  EXPECT_EQ(xml_problem(doc), "") << doc;
  EXPECT_NE(doc.find("tmr &lt;p50&gt; &amp; co"), std::string::npos);
  EXPECT_NE(doc.find("stroke-dasharray=\"6,4\""), std::string::npos);
  EXPECT_EQ(doc.find("nan"), std::string::npos);
  EXPECT_EQ(doc.find("inf"), std::string::npos);
  // The checker itself catches breakage.
  EXPECT_NE(xml_problem("<svg><g></svg>"), "");
  EXPECT_NE(xml_problem("<svg>a & b</svg>"), "");
  EXPECT_NE(xml_problem("<svg a=1/>"), "");
}

TEST(PlotTest, PointsArePlacedMonotonically) {
  // Rising x and rising latency: pixel x rises, pixel y falls (SVG y points down).
  Series rising{"rising", palette_color(0), "", Markers::kAll, {}};
  for (int i = 1; i <= 8; ++i) rising.points.push_back({500.0 * i, 100.0 * std::pow(3.0, i)});
  Series flat{"flat", palette_color(1), "", Markers::kNone, {{500, 2000}, {4000, 2000}}};
  const std::string doc = render_one(latency_chart({rising, flat}));
  ASSERT_EQ(xml_problem(doc), "");
  const auto lines = polylines(doc);
  ASSERT_EQ(lines.size(), 2u);
  ASSERT_EQ(lines[0].size(), 8u);
  for (std::size_t i = 1; i < lines[0].size(); ++i) {
    EXPECT_GT(lines[0][i].x, lines[0][i - 1].x);
    EXPECT_LT(lines[0][i].y, lines[0][i - 1].y);
  }
  // Equal ratios of latency are equal steps on the log axis.
  const double step1 = lines[0][0].y - lines[0][1].y;
  const double step2 = lines[0][5].y - lines[0][6].y;
  EXPECT_NEAR(step1, step2, 0.2);
  // Equal steps of rate are equal steps on the linear axis.
  EXPECT_NEAR(lines[0][1].x - lines[0][0].x, lines[0][7].x - lines[0][6].x, 0.2);
  ASSERT_EQ(lines[1].size(), 2u);
  EXPECT_DOUBLE_EQ(lines[1][0].y, lines[1][1].y);
  // Markers on every point of the first series, none on the second.
  std::size_t markers = 0;
  for (std::size_t at = 0; (at = doc.find("class=\"marker\"", at)) != std::string::npos; ++at) {
    ++markers;
  }
  EXPECT_EQ(markers, 8u);
}

TEST(PlotTest, HollowPointsAndCrowdedLabels) {
  Chart c;
  c.title = "spectrum";
  c.x = {"percentile", Scale::kLog, false, percentile_ticks(1e6), {}};
  c.x.ticks.insert(c.x.ticks.begin(), {1.05, "crowded"});  // 2% of a decade from "first"
  c.x.ticks.insert(c.x.ticks.begin(), {1, "first"});
  c.y = {"latency", Scale::kLog, false, {}, format_duration_us};
  c.series = {Series{"s", palette_color(0), "", Markers::kAll, {{1, 100}, {1e6, 900, true}}}};
  const std::string doc = render_one(c);
  ASSERT_EQ(xml_problem(doc), "");
  EXPECT_NE(doc.find("fill=\"white\""), std::string::npos);  // the hollow marker
  // Every tick keeps its grid line; a label that would overlap the one
  // before it is left out.
  EXPECT_NE(doc.find(">first<"), std::string::npos);
  EXPECT_EQ(doc.find(">crowded<"), std::string::npos);
  for (const char* label : {">50%<", ">90%<", ">99.9%<", ">99.9999%<"}) {
    EXPECT_NE(doc.find(label), std::string::npos) << label;
  }
  std::size_t grid = 0;
  for (std::size_t at = 0; (at = doc.find("class=\"grid\"", at)) != std::string::npos; ++at) {
    ++grid;
  }
  EXPECT_EQ(grid, 9u + 4u);  // x: first, crowded, 50% .. 99.9999%; y: 100, 200, 500 µs, 1 ms
}

TEST(PlotTest, EmptyAndOnePointInputsRender) {
  // No chart at all, a chart with no series, series with no points, one
  // point, and only points a log axis cannot place.
  EXPECT_EQ(xml_problem(render_svg(Figure{})), "");
  EXPECT_EQ(xml_problem(render_one(latency_chart({}))), "");
  const std::string empty =
      render_one(latency_chart({Series{"none", palette_color(0), "", Markers::kAll, {}}}));
  EXPECT_EQ(xml_problem(empty), "");
  EXPECT_NE(empty.find("no data"), std::string::npos);
  const std::string one = render_one(
      latency_chart({Series{"one", palette_color(0), "", Markers::kNone, {{500, 900}}}}));
  EXPECT_EQ(xml_problem(one), "");
  EXPECT_NE(one.find("class=\"marker\""), std::string::npos);  // a lone point is marked
  const std::string unplaceable = render_one(
      latency_chart({Series{"zero", palette_color(0), "", Markers::kAll, {{500, 0}, {NAN, 5}}}}));
  EXPECT_EQ(xml_problem(unplaceable), "");
  EXPECT_EQ(unplaceable.find("nan"), std::string::npos);
  EXPECT_NE(unplaceable.find("no data"), std::string::npos);
}

TEST(PlotTest, GridLayoutPlacesEveryChart) {
  Figure f;
  f.title = "grid";
  for (int i = 0; i < 4; ++i) {
    f.charts.push_back(latency_chart(
        {Series{"s", palette_color(static_cast<std::size_t>(i)), "", Markers::kAll, {{1, 10}}}}));
  }
  const std::string doc = render_svg(f);
  EXPECT_EQ(xml_problem(doc), "");
  // One full-width row, then the three others two to a row: 3 rows of panels.
  const std::string height = "height=\"" + std::to_string(58 + 3 * 400) + ".0\"";
  EXPECT_NE(doc.find(height), std::string::npos) << doc.substr(0, 300);
  EXPECT_EQ(polylines(doc).size(), 4u);
}

}  // namespace
}  // namespace triad::loadgen
