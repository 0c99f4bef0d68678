#pragma once
// The figure of the 2-D experiment (Fig. 1 of the paper), rasterised with plain loops into an
// RGB buffer: D = sigmoid(f) as a colour map with contour lines, the normalised gradient
// field as small arrows, and point sets as outlined dots. No plotting library, no model: the
// caller evaluates D and ∇f and passes the values.
//
// Buffer layout: [size, size, 3] uint8, row-major, row 0 at the top (y = hi), column 0 at the
// left (x = lo), i.e. what a PNG writer expects.
#include <cstdint>
#include <vector>

namespace atebm::at_ebm {

struct Rgb {
  uint8_t r = 0, g = 0, b = 0;
};

/// The square [lo, hi]² drawn on a size × size image: x grows to the right, y upwards.
struct PlotFrame {
  int64_t size = 512;
  double lo = -1.0, hi = 1.0;

  /// World coordinates of the centre of pixel column px / pixel row py.
  double world_x(int64_t px) const;
  double world_y(int64_t py) const;
  /// Continuous pixel coordinates of a world point (pixel centres at integers).
  double pixel_x(double x) const;
  double pixel_y(double y) const;
  /// The size × size pixel centres as [size², 2] (x, y) pairs, row by row from the top: the
  /// points at which to evaluate D for ToyPlot::d.
  std::vector<float> pixel_centres() const;
};

/// Points drawn as dots of `radius` pixels with a one-pixel dark outline. xy is [n, 2].
struct PointSet {
  std::vector<float> xy;
  Rgb colour;
  int radius = 2;
};

/// An arrow centred on (x, y) pointing along the unit vector (dx, dy).
struct Arrow {
  double x = 0, y = 0, dx = 0, dy = 0;
};

struct ToyPlot {
  PlotFrame frame;
  std::vector<float> d;                 // [size², ] D ∈ [0, 1] at frame.pixel_centres()
  double d_lo = 0.0, d_hi = 1.0;        // the D values mapped to the two ends of the colour map
  std::vector<double> contour_levels;   // e.g. 0.1, 0.2, ..., 0.9 (0.5 is drawn white, others dark)
  std::vector<Arrow> arrows;
  double arrow_length = 0.1;            // world units; each arrow light or dark against its background
  std::vector<PointSet> points;         // drawn in order, later sets on top
};

/// D ∈ [0, 1] → a perceptually ordered colour (viridis-like: dark purple → teal → yellow).
Rgb colour_map(double d);

/// Renders the plot; throws atebm::Error when d does not hold size² values, d_lo >= d_hi, or a
/// point set's xy has an odd length. Points and arrows outside the frame are clipped.
std::vector<uint8_t> render_toy_plot(const ToyPlot& plot);

}  // namespace atebm::at_ebm
