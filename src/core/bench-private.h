/* What the bench output files share: value formatting and the SVG's log
 * axis, used by the report (bench-report.c) and the comparison of two runs
 * (bench-compare.c). */
#ifndef VMENV_BENCH_PRIVATE_H
#define VMENV_BENCH_PRIVATE_H

#include <stddef.h>

#include "vmenv/util.h"

#define SVG_W 1200 /* room for the labels right of the bars, band marks included */
#define LABEL_W 300
#define BAR_X (LABEL_W + 10)
#define BAR_W 460
#define ROW_H 20

/* "1.5 MiB" for bytes, otherwise 3-4 significant digits and the unit. */
void vmenv_bench_fmt_value(char *buf, size_t n, double v, const char *unit);
const char *vmenv_bench_target_color(const char *target);

/* A log axis from lo to hi drawn from BAR_X over BAR_W. */
struct vmenv_bench_axis {
        double lo, hi;
};
/* Around [min, max], always showing 1, snapped to 1-2-5 values. */
struct vmenv_bench_axis vmenv_bench_axis_make(double min, double max);
double vmenv_bench_axis_x(const struct vmenv_bench_axis *a, double v);
void vmenv_bench_svg_ticks(struct vmenv_buf *b, const struct vmenv_bench_axis *a, int y0, int y1,
                           const char *suffix);

#endif
