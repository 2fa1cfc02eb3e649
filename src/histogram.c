/* Fixed-bucket histograms: see histogram.h. */
#include <math.h>
#include <stddef.h>

#include "histogram.h"

const double histogram_bounds[HISTOGRAM_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, INFINITY,
};

void histogram_observe(struct histogram *h, double seconds)
{
	size_t i = 0;
	while (i + 1 < HISTOGRAM_BUCKETS && seconds > histogram_bounds[i])
		i++;
	h->counts[i]++;
	h->count++;
	h->sum += seconds;
}
