#include "at_ebm/toy2d/plot.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "engine/error.h"

namespace atebm::at_ebm {
namespace {

// The canvas: [size, size, 3] bytes with clipped pixel writes.
class Canvas {
 public:
  explicit Canvas(int64_t size) : size_(size), rgb_(static_cast<size_t>(size * size * 3), 0) {}

  void set(int64_t px, int64_t py, Rgb c) {
    if (px < 0 || py < 0 || px >= size_ || py >= size_) return;
    uint8_t* p = &rgb_[static_cast<size_t>((py * size_ + px) * 3)];
    p[0] = c.r, p[1] = c.g, p[2] = c.b;
  }
  // Mixes colour c into the pixel with weight alpha ∈ [0, 1].
  void blend(int64_t px, int64_t py, Rgb c, double alpha) {
    if (px < 0 || py < 0 || px >= size_ || py >= size_) return;
    uint8_t* p = &rgb_[static_cast<size_t>((py * size_ + px) * 3)];
    const auto mix = [alpha](uint8_t a, uint8_t b) {
      return static_cast<uint8_t>(std::lround((1.0 - alpha) * a + alpha * b));
    };
    p[0] = mix(p[0], c.r), p[1] = mix(p[1], c.g), p[2] = mix(p[2], c.b);
  }
  // A 1-pixel line between continuous pixel coordinates, sampled every half pixel.
  void segment(double x0, double y0, double x1, double y1, Rgb c) {
    const int64_t n = static_cast<int64_t>(std::ceil(2.0 * std::max(std::abs(x1 - x0), std::abs(y1 - y0)))) + 1;
    for (int64_t i = 0; i <= n; ++i) {
      const double t = static_cast<double>(i) / static_cast<double>(n);
      set(std::lround(x0 + t * (x1 - x0)), std::lround(y0 + t * (y1 - y0)), c);
    }
  }
  void disc(double cx, double cy, int radius, Rgb c) {
    const int64_t x = std::lround(cx), y = std::lround(cy);
    for (int64_t dy = -radius; dy <= radius; ++dy)
      for (int64_t dx = -radius; dx <= radius; ++dx)
        if (dx * dx + dy * dy <= radius * radius + radius) set(x + dx, y + dy, c);
  }
  Rgb get(int64_t px, int64_t py) const {
    px = std::clamp<int64_t>(px, 0, size_ - 1), py = std::clamp<int64_t>(py, 0, size_ - 1);
    const uint8_t* p = &rgb_[static_cast<size_t>((py * size_ + px) * 3)];
    return Rgb{p[0], p[1], p[2]};
  }
  std::vector<uint8_t> take() { return std::move(rgb_); }

 private:
  int64_t size_;
  std::vector<uint8_t> rgb_;
};

void draw_colour_map(Canvas& canvas, const ToyPlot& plot) {
  const int64_t n = plot.frame.size;
  const double scale = 1.0 / (plot.d_hi - plot.d_lo);
  for (int64_t py = 0; py < n; ++py)
    for (int64_t px = 0; px < n; ++px)
      canvas.set(px, py, colour_map((plot.d[static_cast<size_t>(py * n + px)] - plot.d_lo) * scale));
}

// A pixel lies on level L when D − L changes sign between it and its right or lower neighbour:
// one-pixel iso-lines without marching squares. The 0.5 level (Proposition 1's value on the
// data) is drawn white, the others darkened.
void draw_contours(Canvas& canvas, const ToyPlot& plot) {
  const int64_t n = plot.frame.size;
  const auto at = [&](int64_t px, int64_t py) { return static_cast<double>(plot.d[static_cast<size_t>(py * n + px)]); };
  for (double level : plot.contour_levels) {
    const bool half = std::abs(level - 0.5) < 1e-9;
    for (int64_t py = 0; py < n; ++py)
      for (int64_t px = 0; px < n; ++px) {
        const bool above = at(px, py) >= level;
        const bool crosses = (px + 1 < n && (at(px + 1, py) >= level) != above) ||
                             (py + 1 < n && (at(px, py + 1) >= level) != above);
        if (!crosses) continue;
        if (half) {
          canvas.blend(px, py, Rgb{255, 255, 255}, 0.85);
        } else {
          canvas.blend(px, py, Rgb{0, 0, 0}, 0.5);
        }
      }
  }
}

// Light on dark backgrounds, dark on light ones (Rec. 601 luma of the pixel under the centre).
Rgb contrasting(Rgb background) {
  const double luma = 0.299 * background.r + 0.587 * background.g + 0.114 * background.b;
  return luma > 150 ? Rgb{25, 25, 25} : Rgb{235, 235, 235};
}

// Shaft centred on the point, head of two strokes at ±30° off the backward direction.
void draw_arrows(Canvas& canvas, const ToyPlot& plot) {
  const PlotFrame& f = plot.frame;
  const double len = plot.arrow_length * static_cast<double>(f.size) / (f.hi - f.lo);
  const double c30 = std::cos(M_PI / 6.0), s30 = std::sin(M_PI / 6.0);
  for (const Arrow& a : plot.arrows) {
    const double norm = std::hypot(a.dx, a.dy);
    if (!(norm > 0.0)) continue;  // zero or NaN gradient: no direction to draw
    const double ux = a.dx / norm, uy = -a.dy / norm;  // pixel rows grow downwards
    const double cx = f.pixel_x(a.x), cy = f.pixel_y(a.y);
    const double tx = cx + 0.5 * len * ux, ty = cy + 0.5 * len * uy;
    const Rgb colour = contrasting(canvas.get(std::lround(cx), std::lround(cy)));
    canvas.segment(cx - 0.5 * len * ux, cy - 0.5 * len * uy, tx, ty, colour);
    const double head = 0.35 * len;
    for (double s : {s30, -s30}) {
      const double bx = -ux * c30 - (-uy) * s, by = -ux * s + (-uy) * c30;  // −u rotated by ±30°
      canvas.segment(tx, ty, tx + head * bx, ty + head * by, colour);
    }
  }
}

void draw_points(Canvas& canvas, const ToyPlot& plot) {
  const PlotFrame& f = plot.frame;
  for (const PointSet& set : plot.points) {
    for (size_t i = 0; i + 1 < set.xy.size(); i += 2) {
      const double px = f.pixel_x(set.xy[i]), py = f.pixel_y(set.xy[i + 1]);
      canvas.disc(px, py, set.radius + 1, Rgb{20, 20, 20});
      canvas.disc(px, py, set.radius, set.colour);
    }
  }
}

}  // namespace

double PlotFrame::world_x(int64_t px) const {
  return lo + (static_cast<double>(px) + 0.5) * (hi - lo) / static_cast<double>(size);
}
double PlotFrame::world_y(int64_t py) const {
  return hi - (static_cast<double>(py) + 0.5) * (hi - lo) / static_cast<double>(size);
}
double PlotFrame::pixel_x(double x) const { return (x - lo) * static_cast<double>(size) / (hi - lo) - 0.5; }
double PlotFrame::pixel_y(double y) const { return (hi - y) * static_cast<double>(size) / (hi - lo) - 0.5; }

std::vector<float> PlotFrame::pixel_centres() const {
  std::vector<float> xy;
  xy.reserve(static_cast<size_t>(size * size * 2));
  for (int64_t py = 0; py < size; ++py)
    for (int64_t px = 0; px < size; ++px) {
      xy.push_back(static_cast<float>(world_x(px)));
      xy.push_back(static_cast<float>(world_y(py)));
    }
  return xy;
}

Rgb colour_map(double d) {
  // Five samples of matplotlib's viridis at 0, 1/4, 1/2, 3/4, 1, interpolated linearly.
  static constexpr std::array<std::array<double, 3>, 5> stops = {
      {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}};
  const double t = std::isnan(d) ? 0.0 : std::clamp(d, 0.0, 1.0) * 4.0;
  const size_t i = std::min<size_t>(static_cast<size_t>(t), 3);
  const double w = t - static_cast<double>(i);
  const auto lerp = [&](int c) { return static_cast<uint8_t>(std::lround((1 - w) * stops[i][c] + w * stops[i + 1][c])); };
  return Rgb{lerp(0), lerp(1), lerp(2)};
}

std::vector<uint8_t> render_toy_plot(const ToyPlot& plot) {
  const PlotFrame& f = plot.frame;
  ATEBM_CHECK(f.size >= 1, "render_toy_plot: image size must be >= 1, got {}", f.size);
  ATEBM_CHECK(f.hi > f.lo, "render_toy_plot: the frame needs lo < hi, got lo = {}, hi = {}", f.lo, f.hi);
  ATEBM_CHECK(plot.d_lo < plot.d_hi, "render_toy_plot: the colour range needs d_lo < d_hi, got [{}, {}]", plot.d_lo,
              plot.d_hi);
  ATEBM_CHECK(plot.d.size() == static_cast<size_t>(f.size * f.size),
              "render_toy_plot: expected {} D values (a {}x{} grid), got {}", f.size * f.size, f.size, f.size,
              plot.d.size());
  for (const PointSet& set : plot.points)
    ATEBM_CHECK(set.xy.size() % 2 == 0, "render_toy_plot: a point set needs (x, y) pairs, got {} values", set.xy.size());
  Canvas canvas(f.size);
  draw_colour_map(canvas, plot);
  draw_contours(canvas, plot);
  draw_arrows(canvas, plot);
  draw_points(canvas, plot);
  return canvas.take();
}

}  // namespace atebm::at_ebm
